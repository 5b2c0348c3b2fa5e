"""`callassist bench` end to end: every component as a real process on the embedded broker,
the real sample call replayed through the ingest gateway, a results table written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench import cli as bench_cli

pytestmark = pytest.mark.integration


def test_bench_replays_a_real_call_through_the_whole_pipeline_and_writes_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = bench_cli.main(["--calls", "1", "--seconds", "15", "--settle", "40", "--quiet", "4", "--pause", "0",
                         "--out", str(tmp_path), "--json", str(tmp_path / "figures.json")])
    out = capsys.readouterr().out
    assert rc == 0, out[-3000:]
    [result] = tmp_path.glob("*.md")
    text = result.read_text(encoding="utf-8")
    assert text in out  # printed as well
    row = next(line for line in text.splitlines() if line.startswith("| 1 | 15 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    n_words, n_partial, n_final, _, _, _, _ = (int(x) for x in cells[18].split("/"))
    # 15 s of the real call produce at least one final segment on the panel, with word timings
    assert n_final >= 1 and n_words >= 5, row
    # word→screen and word→final p50/p95 are numbers (seconds), the verdict is given
    assert all(re.fullmatch(r"\d+\.\d\d", c) for c in cells[2:6]), row
    assert float(cells[4]) >= float(cells[2]), row  # a word is never final before it is first shown
    assert cells[-1] == "yes" or cells[-1].startswith("no: "), row
    for component in ("ingest", "asr", "streams", "broker"):
        assert re.search(rf"^\| 1 \| {component} \| \d+\.\d\d \|", text, re.M), f"no CPU row for {component}"
    assert "calls sustained in real time:" in text
    # the figures file: the agent's greeting ("... Platinum Motors ... how can I help you today?", in the
    # first 15 s of the call's audio) fires the bench rules: phrase end → alert on the agent's socket
    doc = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    [level] = doc["levels"]
    assert level["calls"] == 1 and isinstance(level["realtime"], bool) and "calls_sustained" in doc
    assert level["phrase_to_alert_n"] >= 1 and 0 < level["phrase_to_alert_p95_s"] < 30, level
    assert level["word_to_screen_p95_s"] == float(cells[3]) or abs(level["word_to_screen_p95_s"] - float(cells[3])) < 0.01
