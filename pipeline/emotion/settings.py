"""Settings of the emotion worker (env prefix ``CALLASSIST_``, e.g. CALLASSIST_EMOTION_MODEL_DIR)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from models.emotion.model import MODEL_DIR
from streams.platform.settings import CommonSettings


class EmotionSettings(CommonSettings):
    emotion_model_dir: Path = Field(
        MODEL_DIR, description="Folder with arousal.onnx, agitated.onnx and feature_spec.json (a retrained model goes here)."
    )
    emotion_group_id: str = Field("callassist-emotion", description="Consumer group of the emotion workers.")
    emotion_threads: int = Field(1, description="onnxruntime intra-op threads (the model is tiny: 1 is right).")
    emotion_max_poll_records: int = Field(500, description="Audio records handled per poll (one commit each).")
    emotion_idle_timeout_s: float = Field(120.0, description="Drop a call's state after this long without audio.")
    emotion_end_grace_s: float = Field(5.0, description="After a call ended, wait this long for late audio.")
    emotion_max_calls: int = Field(5000, description="Most calls whose state one worker keeps.")
    emotion_smoothing: float = Field(0.6, description="EMA weight of the newest window (0-1, higher = faster).")
    emotion_min_windows: int = Field(2, description="Windows a new stable state must hold before it shows.")
