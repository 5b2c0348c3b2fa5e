"""The exported emotion model: two ONNX classifiers (arousal, agitated) + feature spec, loaded explicitly by load().

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

MODEL_DIR = Path(__file__).resolve().parent
SPEC_FILE = "feature_spec.json"
# the two voice signals, in the column order of EmotionModel.predict; one ONNX file each
SIGNALS: tuple[str, ...] = ("arousal", "agitated")
MODEL_FILES = {s: f"{s}.onnx" for s in SIGNALS}


class ModelError(RuntimeError):
    """The emotion model files are missing, corrupt or do not match the feature code."""


class EmotionModel:
    def __init__(self, model_dir: Path | str | None = None, threads: int = 1) -> None:
        self.model_dir = Path(model_dir) if model_dir else MODEL_DIR
        self.threads = threads
        self.spec: dict[str, Any] = {}
        self._session: Any = None
        self._sessions: list[Any] = []
        self._pos: list[int] = []

    # -- loading -------------------------------------------------------------------------
    def load(self) -> EmotionModel:
        import onnxruntime as ort

        spec_path = self.model_dir / SPEC_FILE
        paths = {sig: self.model_dir / f for sig, f in MODEL_FILES.items()}
        for p in (spec_path, *paths.values()):
            if not p.is_file():
                raise ModelError(f"emotion model file {p} is missing (train one: python -m models.emotion.training.train)")
        try:
            spec = json.loads(spec_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"{spec_path}: not a readable JSON spec ({exc})") from exc
        check_spec(spec)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        sessions = []
        for sig, path in paths.items():
            blob = path.read_bytes()
            digest = hashlib.sha256(blob).hexdigest()
            want = spec["signals"][sig]["sha256"]
            if want != digest:
                raise ModelError(f"{path}: sha256 {digest[:12]} does not match the spec ({want[:12]})")
            try:
                sessions.append(ort.InferenceSession(blob, sess_options=opts, providers=["CPUExecutionProvider"]))
            except Exception as exc:  # onnxruntime raises its own exception types
                raise ModelError(f"{path}: onnxruntime cannot load it ({exc})") from exc
        self._sessions = sessions
        # column of the positive class (label 1) in each model's probability output
        self._pos = [list(spec["signals"][sig]["onnx_classes"]).index(1) for sig in SIGNALS]
        self.spec = spec
        self._session = sessions[0]
        return self

    @property
    def loaded(self) -> bool:
        return self._session is not None

    # -- inference -----------------------------------------------------------------------
    def predict(self, z: np.ndarray) -> np.ndarray:
        """Signal probabilities [n, 2] (columns: SIGNALS = arousal, agitated) for normalised rows."""
        if self._session is None:
            raise ModelError("EmotionModel.load() was not called")
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None, :]
        if z.shape[1] != F.N_FEATURES:
            raise ValueError(f"expected {F.N_FEATURES} features per row, got {z.shape[1]}")
        cols = [np.asarray(s.run(["probabilities"], {"features": z})[0], dtype=np.float64)[:, k]
                for s, k in zip(self._sessions, self._pos, strict=True)]  # fmt: skip
        return np.stack(cols, axis=1)

    def new_baseline(self) -> SpeakerBaseline:
        b = self.spec["baseline"]
        return SpeakerBaseline(
            np.asarray(b["pop_mean"]), np.asarray(b["pop_std"]), b["prior_weight"], b["max_windows"]
        )

    def threshold(self, signal: str) -> float:
        """The signal's decision threshold, chosen by cross-validation inside the training corpora."""
        return float(self.spec["signals"][signal]["threshold"])

    @property
    def agitated_threshold(self) -> float:
        return self.threshold("agitated")

    @property
    def arousal_threshold(self) -> float:
        return self.threshold("arousal")


def check_spec(spec: dict[str, Any]) -> None:
    """Refuse a spec made by different feature code (the drift guard)."""
    try:
        version, names = spec["feature_version"], spec["feature_names"]
        spec["baseline"]["pop_mean"]
        for sig in SIGNALS:
            spec["signals"][sig]["sha256"], spec["signals"][sig]["onnx_classes"], spec["signals"][sig]["threshold"]
    except (KeyError, TypeError) as exc:
        raise ModelError(f"feature spec is incomplete (missing {exc})") from exc
    if version != F.FEATURE_VERSION or list(names) != list(F.FEATURE_NAMES):
        raise ModelError(
            f"model was trained on feature version {version} ({len(names)} features) but the code computes "
            f"version {F.FEATURE_VERSION} ({F.N_FEATURES}): retrain with python -m models.emotion.training.train"
        )
    for sig in SIGNALS:
        if sorted(spec["signals"][sig]["onnx_classes"]) != [0, 1]:
            raise ModelError(f"{sig} model classes {spec['signals'][sig]['onnx_classes']} are not [0, 1]")
    for key in ("sample_rate", "window_s", "hop_s", "min_voiced_s"):
        ours = {"sample_rate": F.SAMPLE_RATE, "window_s": F.WINDOW_S, "hop_s": F.HOP_S, "min_voiced_s": F.MIN_VOICED_S}
        if spec.get(key) != ours[key]:
            raise ModelError(f"feature spec {key}={spec.get(key)!r} differs from the code ({ours[key]!r})")
