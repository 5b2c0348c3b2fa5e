"""`callassist emotion score|evaluate` on real recordings with the real exported model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.emotion.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLASSIST_DATA_DIR", str(tmp_path / "var"))


def _stereo_call(shared_data: Path, tmp_path: Path, seconds: float = 20.0) -> Path:
    agent, sr = sf.read(shared_data / "calls" / "auto_repairs_40_agent.wav", dtype="float32")
    cust, _ = sf.read(shared_data / "calls" / "auto_repairs_40_caller.wav", dtype="float32")
    n = int(seconds * sr)
    path = tmp_path / "call.wav"
    sf.write(path, np.stack([agent[:n], cust[:n]], axis=1), sr)
    return path


def test_score_prints_window_records_for_both_channels(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call = _stereo_call(shared_data, tmp_path)
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    assert main(["score", str(bad), str(call)]) == 1  # the bad file fails, the good one is still scored
    out, err = capsys.readouterr()
    assert "notes.wav" in err and "cannot read audio" in err
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and {r["file"] for r in rows} == {str(call)}
    assert {r["channel"] for r in rows} == {"agent", "customer"}
    for r in rows:
        assert set(r["probs"]) == {"arousal", "agitated"}
        assert r["state"] in ("neutral", "agitated")
        assert 0 <= r["start"] < r["end"] <= 20.0 + 1e-6
    assert all(r["hints"] == [] for r in rows if r["channel"] == "customer")
    # a calm service call: the stable state is not "agitated" most of the time
    assert sum(r["state"] == "agitated" for r in rows) < len(rows) / 2


def test_score_telephone_option_and_silence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quiet = tmp_path / "quiet.wav"
    sf.write(quiet, np.zeros(16000 * 5, np.float32), 16000)
    assert main(["score", "--telephone", str(quiet)]) == 0
    assert capsys.readouterr().out == ""  # silence: no emotion claims


def _labelled_folder(shared_data: Path, tmp_path: Path) -> Path:
    root = tmp_path / "labelled"
    root.mkdir()
    rows = ["path,label,speaker"]
    rav = shared_data / "emotion" / "ravdess"
    # the shipped model was trained on every RAVDESS actor: this checks the command on a
    # labels.csv folder, not generalisation (held-out numbers: the cross-corpus table)
    for actor in ("23", "24"):
        for emo, label in (("01", "neutral"), ("02", "calm"), ("03", "happy"), ("04", "sad"), ("05", "angry")):
            for p in sorted((rav / f"Actor_{actor}").glob(f"03-01-{emo}-*-01-*-{actor}.flac"))[:3]:
                rows.append(f"{p},{label},actor{actor}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def test_evaluate_a_labels_csv_folder(shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _labelled_folder(shared_data, tmp_path)
    assert main(["evaluate", str(root), "--telephone", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["condition"] == "telephone" and r["speakers"] == 2 and r["clips"] == 28
    assert r["clips_scored"] >= 26
    assert r["agitated"]["n"] >= 26 and r["agitated"]["auc"] > 0.75
    assert r["arousal"]["n"] >= 26 and 0.0 <= r["arousal"]["uar"] <= 1.0
    assert main(["evaluate", str(root), "--telephone", "--opening", "none"]) == 0  # cached features, table
    out = capsys.readouterr().out
    assert "arousal" in out and "agitated vs not" in out and "AUC" in out and "speaker baseline: none" in out


def test_evaluate_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(tmp_path)]) == 1
    assert "no labelled clips" in capsys.readouterr().err


def test_missing_model_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CALLASSIST_EMOTION_MODEL_DIR", str(tmp_path))
    assert main(["score", str(tmp_path / "x.wav")]) == 2
    assert "missing" in capsys.readouterr().err
