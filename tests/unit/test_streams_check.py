"""`callassist streams check`: offline replay of a transcript file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.cli import main

pytestmark = pytest.mark.unit

LINES = [
    {"channel": "customer", "start": 4.0, "end": 8.0, "text": "我要打一二三七八投诉你们", "language": "zh"},
    {"channel": "agent", "start": 0.5, "end": 3.0, "text": "您好，本次通话将被录音", "language": "zh"},
    {"channel": "agent", "start": 9.0, "end": 12.0, "text": "这个产品保本保息", "language": "zh"},
    {"channel": "customer", "start": 12.0, "end": 13.0, "state": "angry", "arousal": 0.8},
]


def _write(tmp_path: Path, lines: list, extra: str = "") -> Path:
    p = tmp_path / "call.jsonl"
    p.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines) + extra, encoding="utf-8")
    return p


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict], str]:
    rc = main(["check", *argv])
    out, err = capsys.readouterr()
    return rc, [json.loads(x) for x in out.splitlines()], err


def test_check_prints_alerts_suggestions_and_risk_last(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(capsys, str(_write(tmp_path, LINES)))
    assert rc == 0 and err == ""
    alerts = [o for o in out if o["type"] == "alert"]
    assert {a["rule_id"] for a in alerts} >= {"CU_REGULATOR", "CU_COMPLAINT", "AG_GUARANTEED_RETURN"}
    assert all(a["rules_version"] and a["evidence"] and a["call_id"] == "call" for a in alerts)
    # replayed in call-time order, not file order: the complaint (t=8) comes before the mis-sale (t=12)
    order = [a["rule_id"] for a in alerts]
    assert order.index("CU_REGULATOR") < order.index("AG_GUARANTEED_RETURN")
    assert any(o["type"] == "suggestion" for o in out)
    risk = out[-1]
    assert risk["type"] == "risk" and risk["risk_level"] in ("high", "critical") and risk["reasons"]


def test_bad_lines_are_reported_with_line_numbers_and_the_rest_is_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = [
        *LINES,
        {"channel": "robot", "start": 1, "end": 2, "text": "x"},
        {"channel": "agent", "start": "1", "end": 2, "text": "x"},
        {"channel": "agent", "start": 5, "end": 2, "text": "x"},
        {"hello": "world"},
        [1, 2],
    ]
    rc, out, err = _run(capsys, str(_write(tmp_path, bad, "{not json\n")))
    assert rc == 2
    for n, why in ((5, "channel"), (6, "must be a number"), (7, "before start"), (8, "not a transcript"),
                   (9, "JSON object"), (10, "not JSON")):
        assert f"call.jsonl:{n}: " in err and why in err, (n, why, err)
    assert {o["rule_id"] for o in out if o["type"] == "alert"} >= {"AG_GUARANTEED_RETURN"}  # nothing lost
    assert out[-1]["type"] == "risk"


def test_missing_file_and_broken_rules_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = _run(capsys, str(tmp_path / "missing.jsonl"))
    assert rc == 2 and out == [] and "missing.jsonl" in err
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nrules: nope\n", encoding="utf-8")
    rc, out, err = _run(capsys, "--rules", str(rules), str(_write(tmp_path, LINES)))
    assert rc == 2 and out == [] and "rules.yaml" in err


def test_intents_flag_prints_rankings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = _run(capsys, "--intents", str(_write(tmp_path, LINES)))
    ranks = [o for o in out if o["type"] == "intents"]
    assert rc == 0 and ranks and ranks[0]["ranking"][0]["intent"] == "complaint"
