"""Audio codecs and resampling shared by ingest, ASR and emotion (no I/O, no Kafka).

Telephony audio arrives as 8 kHz G.711 µ-law or PCM16 at 8/16 kHz (sometimes 44.1/48 kHz
from recordings).  Workers decode each frame to float32 in [-1, 1] and resample to what
their model wants (16 kHz for Whisper and the emotion model).
"""

from __future__ import annotations

import numpy as np
import soxr

# the G.711 codec lives in models/ so the emotion model's telephone-band augmentation uses the very
# codec the live path decodes with, without models/ importing pipeline/
from models.g711 import mulaw_to_pcm16 as mulaw_to_pcm16
from models.g711 import pcm16_to_mulaw as pcm16_to_mulaw


def pcm16_bytes_to_float(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16_bytes(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def decode_payload(payload: bytes, encoding: str) -> np.ndarray:
    """Payload bytes -> float32 samples in [-1, 1] at the payload's own rate."""
    if encoding == "mulaw":
        return mulaw_to_pcm16(payload).astype(np.float32) / 32768.0
    if encoding == "pcm16le":
        if len(payload) % 2:
            raise ValueError("odd-length PCM16 payload")
        return pcm16_bytes_to_float(payload)
    raise ValueError(f"unknown audio encoding {encoding!r}")


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples.astype(np.float32, copy=False), from_rate, to_rate, quality="HQ")


class StreamResampler:
    """Stateful resampler for one channel's stream (no clicks at frame boundaries)."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._rs = None if from_rate == to_rate else soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32")

    def push(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        samples = samples.astype(np.float32, copy=False)
        if self._rs is None:
            return samples
        return self._rs.resample_chunk(samples, last=last)
