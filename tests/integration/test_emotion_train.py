"""Retraining on a user's own labelled folder (labels.csv) with the documented command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.emotion.model import MODEL_FILE, SPEC_FILE, EmotionModel
from models.emotion.train import main as train_main

pytestmark = pytest.mark.integration


def test_train_on_a_labels_csv_folder_exports_a_loadable_model(shared_data: Path, tmp_path: Path) -> None:
    rav = shared_data / "emotion" / "ravdess"
    rows = ["path,label,speaker"]
    for actor in ("01", "02", "03", "04"):
        for emo, label in (("02", "calm"), ("03", "happy"), ("04", "sad"), ("05", "angry")):
            for p in sorted((rav / f"Actor_{actor}").glob(f"03-01-{emo}-*-{actor}.flac"))[:3]:
                rows.append(f"{p},{label},spk{actor}")
    data = tmp_path / "mine"
    data.mkdir()
    (data / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "model"
    out.mkdir()
    (out / "MODEL_CARD.md").write_text("# card\n<!-- metrics:start -->\nold\n<!-- metrics:end -->\nend\n")
    argv = ["--data", str(data), "--out", str(out), "--cache", str(tmp_path / "cache"),
            "--test-speakers", "spk04", "--folds", "3", "--eval-draws", "2"]  # fmt: skip
    assert train_main(argv) == 0

    model = EmotionModel(out).load()
    p = model.predict(np.zeros((2, len(model.spec["feature_names"])), np.float32))
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    spec = json.loads((out / SPEC_FILE).read_text())
    assert spec["training"]["test_speakers"] == ["spk04"]
    assert spec["training"]["train_speakers"] == ["spk01", "spk02", "spk03"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["held_out"]) == {"clean", "telephone"}
    assert metrics["held_out"]["telephone"]["four_class"]["n"] == 12
    card = (out / "MODEL_CARD.md").read_text()
    assert "old" not in card and "agitated UAR" in card and card.endswith("end\n")
    assert (out / MODEL_FILE).stat().st_size < 100_000
