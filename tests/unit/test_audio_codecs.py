from __future__ import annotations

import numpy as np
import pytest

from streams.platform.audio_codec import (
    StreamResampler,
    decode_payload,
    float_to_pcm16_bytes,
    mulaw_to_pcm16,
    pcm16_to_mulaw,
    resample,
)

pytestmark = pytest.mark.unit


def test_mulaw_known_values() -> None:
    # G.711: 0xFF and 0x7F are the two zeros, 0x00 is the most negative value
    out = mulaw_to_pcm16(bytes([0xFF, 0x7F, 0x00, 0x80]))
    assert out.tolist() == [0, 0, -32124, 32124]


def test_mulaw_round_trip_error_is_small() -> None:
    x = (np.sin(np.arange(8000) / 7.0) * 20000).astype(np.int16)
    y = mulaw_to_pcm16(pcm16_to_mulaw(x))
    assert np.max(np.abs(x.astype(int) - y.astype(int))) < 700  # µ-law step at the top segment


def test_pcm16_decode_and_odd_length() -> None:
    data = float_to_pcm16_bytes(np.array([0.0, 0.5, -0.5], dtype=np.float32))
    assert decode_payload(data, "pcm16le") == pytest.approx([0.0, 0.5, -0.5], abs=1e-4)
    with pytest.raises(ValueError, match="odd-length"):
        decode_payload(data[:-1], "pcm16le")
    with pytest.raises(ValueError, match="unknown audio encoding"):
        decode_payload(data, "opus")


def test_stream_resampler_matches_length_and_has_no_boundary_clicks() -> None:
    t = np.arange(8000 * 2) / 8000
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    rs = StreamResampler(8000, 16000)
    chunks = [rs.push(tone[i : i + 800]) for i in range(0, len(tone), 800)]
    chunks.append(rs.push(np.zeros(0, np.float32), last=True))
    out = np.concatenate(chunks)
    assert abs(len(out) - 32000) <= 64
    one_shot = resample(tone, 8000, 16000)
    n = min(len(out), len(one_shot)) - 200
    assert np.max(np.abs(out[200:n] - one_shot[200:n])) < 0.02
