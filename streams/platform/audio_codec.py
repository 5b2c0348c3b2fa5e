"""Audio codecs and resampling shared by ingest, ASR and emotion (no I/O, no Kafka).

Telephony audio arrives as 8 kHz G.711 µ-law or PCM16 at 8/16 kHz (sometimes 44.1/48 kHz
from recordings).  Workers decode each frame to float32 in [-1, 1] and resample to what
their model wants (16 kHz for Whisper and the emotion model).
"""

from __future__ import annotations

import numpy as np
import soxr

from streams.contract.audio import AudioFrame


def _mulaw_decode_table() -> np.ndarray:
    # ITU-T G.711 µ-law expansion, vectorised once into a 256-entry table (int16).
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = ((mantissa << 3) + 0x84) << exponent
    sample = magnitude - 0x84
    return np.where(sign != 0, -sample, sample).astype(np.int16)


_MULAW_TO_PCM16 = _mulaw_decode_table()


def mulaw_to_pcm16(data: bytes) -> np.ndarray:
    return _MULAW_TO_PCM16[np.frombuffer(data, dtype=np.uint8)]


def pcm16_to_mulaw(samples: np.ndarray) -> bytes:
    """G.711 µ-law compression of int16 samples (used by replay and tests)."""
    bias, clip = 0x84, 32635
    x = samples.astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    x = np.minimum(np.abs(x), clip) + bias
    exponent = np.floor(np.log2(x)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (x >> (exponent + 3)) & 0x0F
    out = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return out.astype(np.uint8).tobytes()


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


def frame_to_float(frame: AudioFrame, target_rate: int = 16000) -> np.ndarray:
    """Decode one Kafka audio frame to float32 at ``target_rate``.

    Resampling frame by frame with soxr's one-shot API adds tiny edge effects at frame
    boundaries; for streams use :class:`StreamResampler`, which keeps filter state.
    """
    return resample(decode_payload(frame.payload, frame.encoding), frame.sample_rate, target_rate)


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
