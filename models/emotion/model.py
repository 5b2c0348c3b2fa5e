"""The exported emotion model: ONNX classifier + feature spec, loaded explicitly by load().

Nothing happens at import: the worker and the offline commands call :meth:`EmotionModel.load`
at start, which fails with a clear error when the files are missing, corrupt, or were made
with a different feature definition than the code now computes (features.FEATURE_VERSION /
FEATURE_NAMES), so training and inference can never silently drift apart.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from models.emotion import features as F
from models.emotion.baseline import SpeakerBaseline
from models.emotion.dataset import CLASSES

MODEL_DIR = Path(__file__).resolve().parent
MODEL_FILE = "emotion.onnx"
SPEC_FILE = "feature_spec.json"


class ModelError(RuntimeError):
    """The emotion model files are missing, corrupt or do not match the feature code."""


class EmotionModel:
    def __init__(self, model_dir: Path | str | None = None, threads: int = 1) -> None:
        self.model_dir = Path(model_dir) if model_dir else MODEL_DIR
        self.threads = threads
        self.spec: dict[str, Any] = {}
        self._session: Any = None
        self._order: list[int] = []

    # -- loading -------------------------------------------------------------------------
    def load(self) -> EmotionModel:
        import onnxruntime as ort

        spec_path, onnx_path = self.model_dir / SPEC_FILE, self.model_dir / MODEL_FILE
        for p in (spec_path, onnx_path):
            if not p.is_file():
                raise ModelError(f"emotion model file {p} is missing (train one: python -m models.emotion.train)")
        try:
            spec = json.loads(spec_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{spec_path}: not a readable JSON spec ({exc})") from exc
        check_spec(spec)
        blob = onnx_path.read_bytes()
        digest = hashlib.sha256(blob).hexdigest()
        if spec["model"]["sha256"] != digest:
            raise ModelError(f"{onnx_path}: sha256 {digest[:12]} does not match the spec ({spec['model']['sha256'][:12]})")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(blob, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{onnx_path}: onnxruntime cannot load it ({exc})") from exc
        onnx_classes = spec["model"]["onnx_classes"]
        self._order = [onnx_classes.index(c) for c in CLASSES]
        self.spec = spec
        return self

    @property
    def loaded(self) -> bool:
        return self._session is not None

    # -- inference -----------------------------------------------------------------------
    def predict(self, z: np.ndarray) -> np.ndarray:
        """Class probabilities [n, 4] (order: dataset.CLASSES) for baseline-normalised rows."""
        if self._session is None:
            raise ModelError("EmotionModel.load() was not called")
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None, :]
        if z.shape[1] != F.N_FEATURES:
            raise ValueError(f"expected {F.N_FEATURES} features per row, got {z.shape[1]}")
        out = self._session.run(["probabilities"], {"features": z})[0]
        return np.asarray(out, dtype=np.float64)[:, self._order]

    def new_baseline(self) -> SpeakerBaseline:
        b = self.spec["baseline"]
        return SpeakerBaseline(
            np.asarray(b["pop_mean"]), np.asarray(b["pop_std"]), b["prior_weight"], b["max_windows"]
        )

    @property
    def agitated_threshold(self) -> float:
        return float(self.spec["agitated_threshold"])


def check_spec(spec: dict[str, Any]) -> None:
    """Refuse a spec made by different feature code (the drift guard)."""
    try:
        version, names = spec["feature_version"], spec["feature_names"]
        spec["model"]["sha256"], spec["model"]["onnx_classes"], spec["baseline"]["pop_mean"]
        spec["agitated_threshold"]
    except (KeyError, TypeError) as exc:
        raise ModelError(f"feature spec is incomplete (missing {exc})") from exc
    if version != F.FEATURE_VERSION or list(names) != list(F.FEATURE_NAMES):
        raise ModelError(
            f"model was trained on feature version {version} ({len(names)} features) but the code computes "
            f"version {F.FEATURE_VERSION} ({F.N_FEATURES}): retrain with python -m models.emotion.train"
        )
    if sorted(spec["model"]["onnx_classes"]) != sorted(CLASSES):
        raise ModelError(f"model classes {spec['model']['onnx_classes']} are not {list(CLASSES)}")
    for key in ("sample_rate", "window_s", "hop_s", "min_voiced_s"):
        ours = {"sample_rate": F.SAMPLE_RATE, "window_s": F.WINDOW_S, "hop_s": F.HOP_S, "min_voiced_s": F.MIN_VOICED_S}
        if spec.get(key) != ours[key]:
            raise ModelError(f"feature spec {key}={spec.get(key)!r} differs from the code ({ours[key]!r})")
