"""Retraining on labelled folders (RAVDESS names and labels.csv) with the documented command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.emotion.model import MODEL_FILES, SIGNALS, SPEC_FILE, EmotionModel
from models.emotion.training.train import main as train_main

pytestmark = pytest.mark.integration


def _folder(root: Path, clips: list[tuple[Path, str, str]]) -> Path:
    root.mkdir()
    (root / "labels.csv").write_text("path,label,speaker\n" + "".join(f"{p},{lab},{spk}\n" for p, lab, spk in clips))
    return root


def test_train_on_two_corpora_exports_a_loadable_model_and_cross_corpus_rows(shared_data: Path, tmp_path: Path) -> None:
    rav = shared_data / "emotion" / "ravdess"
    a = []
    for actor in ("01", "02", "03"):
        for emo, label in (("02", "calm"), ("03", "happy"), ("04", "sad"), ("05", "angry")):
            a += [(p, label, f"r{actor}") for p in sorted((rav / f"Actor_{actor}").glob(f"03-01-{emo}-*-{actor}.flac"))[:2]]
    casia = shared_data / "emotion" / "casia"
    rows = (casia / "labels.csv").read_text().splitlines()[1:]
    b = []
    for line in rows:
        path, label, spk = line.split(",")
        if label in ("neutral", "angry", "happy", "sad") and sum(1 for x in b if x[1] == label and x[2] == spk) < 2:
            b.append((casia / path, label, spk))
    out = tmp_path / "model"
    out.mkdir()
    (out / "MODEL_CARD.md").write_text("# card\n<!-- metrics:start -->\nold\n<!-- metrics:end -->\nend\n")
    argv = ["--corpus", f"a={_folder(tmp_path / 'a', a)}", "--corpus", f"b={_folder(tmp_path / 'b', b)}",
            "--out", str(out), "--cache", str(tmp_path / "cache")]  # fmt: skip
    assert train_main(argv) == 0

    model = EmotionModel(out).load()
    p = model.predict(np.zeros((2, len(model.spec["feature_names"])), np.float32))
    assert p.shape == (2, len(SIGNALS)) and ((p >= 0) & (p <= 1)).all()
    spec = json.loads((out / SPEC_FILE).read_text())
    assert spec["training"]["corpora"] == {"a": len(a), "b": len(b)}
    metrics = json.loads((out / "metrics.json").read_text())
    cc = metrics["cross_corpus"]
    # both directions x 2 signals x clean/telephone x calm/no baseline
    assert len(cc) == 16 and {(r["train"], r["test"]) for r in cc} == {("b", "a"), ("a", "b")}
    assert {(r["condition"], r["opening"]) for r in cc} == {(c, o) for c in ("clean", "telephone") for o in ("calm", "none")}
    card = (out / "MODEL_CARD.md").read_text()
    assert "\nold\n" not in card and "train → test" in card and card.endswith("end\n")
    for f in MODEL_FILES.values():
        assert (out / f).stat().st_size < 2_000_000
