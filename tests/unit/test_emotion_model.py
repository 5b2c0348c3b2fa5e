"""Loading the exported model: explicit load(), and refusal of files that do not match the code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.emotion import features as F
from models.emotion.model import MODEL_DIR, MODEL_FILES, SIGNALS, SPEC_FILE, EmotionModel, ModelError

pytestmark = pytest.mark.unit


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    for name in (*MODEL_FILES.values(), SPEC_FILE):
        shutil.copy(MODEL_DIR / name, tmp_path / name)
    return tmp_path


def test_nothing_is_loaded_at_construction_and_predict_needs_load() -> None:
    m = EmotionModel()
    assert not m.loaded
    with pytest.raises(ModelError, match="load"):
        m.predict(np.zeros(F.N_FEATURES, np.float32))


def test_shipped_model_loads_and_predicts_probabilities() -> None:
    m = EmotionModel().load()
    p = m.predict(np.zeros((3, F.N_FEATURES), np.float32))
    assert p.shape == (3, len(SIGNALS))
    assert ((p >= 0.0) & (p <= 1.0)).all()
    assert 0.0 < m.agitated_threshold < 1.0 and 0.0 < m.arousal_threshold < 1.0
    for f in MODEL_FILES.values():
        assert (MODEL_DIR / f).stat().st_size < 2_000_000  # committed: must stay small
    with pytest.raises(ValueError, match="features per row"):
        m.predict(np.zeros((1, 3), np.float32))


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="missing"):
        EmotionModel(tmp_path).load()


def test_feature_drift_is_refused(model_copy: Path) -> None:
    spec = json.loads((model_copy / SPEC_FILE).read_text())
    spec["feature_names"] = spec["feature_names"][:-1] + ["something_else"]
    (model_copy / SPEC_FILE).write_text(json.dumps(spec))
    with pytest.raises(ModelError, match="retrain"):
        EmotionModel(model_copy).load()


def test_window_geometry_drift_is_refused(model_copy: Path) -> None:
    spec = json.loads((model_copy / SPEC_FILE).read_text())
    spec["window_s"] = 2.0
    (model_copy / SPEC_FILE).write_text(json.dumps(spec))
    with pytest.raises(ModelError, match="window_s"):
        EmotionModel(model_copy).load()


def test_corrupt_or_swapped_onnx_is_refused(model_copy: Path) -> None:
    (model_copy / MODEL_FILES["agitated"]).write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="sha256"):
        EmotionModel(model_copy).load()


def test_corrupt_spec_is_refused(model_copy: Path) -> None:
    (model_copy / SPEC_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="JSON"):
        EmotionModel(model_copy).load()
    (model_copy / SPEC_FILE).write_text("{}")
    with pytest.raises(ModelError, match="incomplete"):
        EmotionModel(model_copy).load()
