"""ITU-T G.711 µ-law codec (pure numpy, no I/O): telephone audio in, int16 samples out and back.

One codec for the whole house: streams.platform.audio_codec decodes the live frames with it, and the emotion
model's telephone-band augmentation (models.emotion.features.telephone) round-trips through it.
"""

from __future__ import annotations

import numpy as np


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
