"""Pooled Whisper-base encoder states as emotion features (an experiment; nothing ships it).

Issue 14 allows learned representations "of the Whisper model the product already ships"
if they cost <= 30 ms CPU per stream-second on CPU.  This module turns one stretch of
16 kHz audio into one vector: Whisper's log-mel front end (faster-whisper's feature
extractor), the CTranslate2 encoder run on *exactly* that many frames (CTranslate2 accepts
inputs shorter than Whisper's padded 30 s window, which the ASR engine's ``"fit"`` window
relies on too), then the mean (optionally also the std) of the encoder states over the
voiced 20 ms steps.  The model is the one the ASR side loads (``resolve_model("base")``,
assembled from the installed PyPI parts: never downloaded).

Blocking (model load, inference): call it from a thread when an event loop is running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
MEL_HOP = 160  # Whisper log-mel frames are 10 ms
STATE_SAMPLES = 2 * MEL_HOP  # the encoder's stride-2 convolution: one state per 20 ms
MIN_SAMPLES = SAMPLE_RATE  # shorter stretches are padded with silence to 1 s
SPEECH_FLOOR_DB = -70.0  # as models.emotion.features: below this a step is never speech
SPEECH_REL_DB = 35.0  # steps this far below the stretch's loud steps are background
POOLINGS = ("mean", "meanstd")


def voiced_state_mask(audio: np.ndarray, n_states: int) -> np.ndarray:
    """Which encoder states (20 ms steps) carry speech energy, by the same rule as the prosody features.

    A step is voiced when its RMS level is above the absolute floor and within
    ``SPEECH_REL_DB`` of the stretch's 95th-percentile step: pooling then describes the
    voice, not the pauses (whose share differs between corpora and would leak into the mean).
    """
    y = np.asarray(audio, dtype=np.float64)
    n_full = min(n_states, y.size // STATE_SAMPLES)
    if n_full == 0:
        return np.ones(n_states, dtype=bool)
    frames = y[: n_full * STATE_SAMPLES].reshape(n_full, STATE_SAMPLES)
    db = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loud = np.percentile(db, 95)
    mask = np.zeros(n_states, dtype=bool)
    mask[:n_full] = (db > SPEECH_FLOOR_DB) & (db >= loud - SPEECH_REL_DB)
    if not mask.any():  # a stretch with no speech-like step: describe all of it
        mask[:n_full] = True
    return mask


def pool_states(states: np.ndarray, mask: np.ndarray, pooling: str = "mean") -> np.ndarray:
    """One vector from encoder states ``[T, D]``: mean (``mean``) or mean and std (``meanstd``) over ``mask``."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    states = np.asarray(states, dtype=np.float32)
    if states.ndim != 2 or states.shape[0] != mask.shape[0]:
        raise ValueError(f"states {states.shape} and mask {mask.shape} do not match")
    sel = states[mask] if mask.any() else states
    mean = sel.mean(axis=0)
    if pooling == "mean":
        return mean.astype(np.float32)
    return np.concatenate([mean, sel.std(axis=0)]).astype(np.float32)


def pooled_dim(width: int, pooling: str) -> int:
    return width * (2 if pooling == "meanstd" else 1)


class WhisperEncoder:
    """The shipped Whisper-base encoder on CPU, one stretch of audio at a time."""

    def __init__(self, cache_dir: Path = Path("var/models"), threads: int = 1, compute_type: str = "int8") -> None:
        self.cache_dir = cache_dir
        self.threads = threads
        self.compute_type = compute_type
        self._model: Any = None
        self._features: Any = None

    def load(self) -> WhisperEncoder:
        if self._model is not None:
            return self
        import ctranslate2
        from faster_whisper.feature_extractor import FeatureExtractor

        from models.whisper.resolve import resolve_model

        resolved = resolve_model("base", self.cache_dir, verify_hash=False)
        self._model = ctranslate2.models.Whisper(
            str(resolved.path), device="cpu", compute_type=self.compute_type, intra_threads=self.threads, inter_threads=1
        )
        self._features = FeatureExtractor(feature_size=int(self._model.n_mels))
        return self

    def states(self, audio: np.ndarray) -> np.ndarray:
        """Encoder states ``[n_frames // 2, 512]`` of 16 kHz mono audio (no 30 s padding)."""
        import ctranslate2

        if self._model is None:
            raise RuntimeError("WhisperEncoder.states() before load()")
        y = np.asarray(audio, dtype=np.float32)
        if y.size < MIN_SAMPLES:
            y = np.concatenate([y, np.zeros(MIN_SAMPLES - y.size, np.float32)])
        n = (y.size // MEL_HOP) // 2 * 2  # even: the stride-2 convolution
        mel = self._features(y)[:, :n]
        out = self._model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])), to_cpu=True)
        return np.asarray(out)[0]

    def embed(self, audio: np.ndarray, pooling: str = "meanstd") -> np.ndarray:
        """Pooled encoder states of one stretch of 16 kHz audio (voiced steps only)."""
        st = self.states(audio)
        padded = np.concatenate([audio, np.zeros(max(0, MIN_SAMPLES - len(audio)), np.float32)])
        return pool_states(st, voiced_state_mask(padded, st.shape[0]), pooling)
