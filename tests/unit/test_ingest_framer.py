"""Framer: exact 100-500 ms frames per channel, seq from 0 without gaps, call-time starts."""

from __future__ import annotations

import random

import pytest

from pipeline.ingest.framer import Framer

pytestmark = pytest.mark.unit


def test_mulaw_frames_are_exact_and_numbered_per_channel() -> None:
    f = Framer("c1", "mulaw", 8000, ("agent", "customer"), frame_ms=200)
    assert f.frame_bytes == 1600
    out = []
    for i in range(25):  # 25 x 20 ms = 500 ms per channel
        out += f.push("agent", bytes([i]) * 160, now=100.0 + i)
        out += f.push("customer", bytes([i]) * 160, now=100.0 + i)
    agent = [fr for fr in out if fr.channel == "agent"]
    customer = [fr for fr in out if fr.channel == "customer"]
    assert [fr.seq for fr in agent] == [0, 1] and [fr.seq for fr in customer] == [0, 1]
    assert [fr.start for fr in agent] == [0.0, 0.2]
    assert all(len(fr.payload) == 1600 and fr.duration == pytest.approx(0.2) for fr in out)
    # captured_at is when the frame's last sample arrived (chunk 9 completes the first frame)
    assert agent[0].captured_at == 109.0
    tail = f.flush(now=200.0)
    assert [(fr.channel, fr.seq, fr.start, len(fr.payload)) for fr in tail] == [
        ("agent", 2, 0.4, 800),
        ("customer", 2, 0.4, 800),
    ]
    assert f.duration() == pytest.approx(0.5)


def test_pcm16_bytes_survive_any_split_unchanged() -> None:
    rng = random.Random(7)
    audio = bytes(rng.getrandbits(8) for _ in range(16000 * 2 * 3 + 1234))  # ~3 s, 16 kHz pcm16
    audio = audio[: len(audio) // 2 * 2]
    f = Framer("c2", "pcm16le", 16000, ("agent",), frame_ms=100)
    frames, pos = [], 0
    while pos < len(audio):
        n = rng.randrange(1, 3000) * 2
        frames += f.push("agent", audio[pos : pos + n], now=0.0)
        pos += n
    frames += f.flush(now=1.0)
    assert b"".join(fr.payload for fr in frames) == audio
    assert [fr.seq for fr in frames] == list(range(len(frames)))
    assert all(len(fr.payload) == 3200 for fr in frames[:-1])
    for a, b in zip(frames, frames[1:], strict=False):
        assert b.start == pytest.approx(a.end)


def test_pad_silence_and_rejects() -> None:
    f = Framer("c3", "mulaw", 8000, ("customer",), frame_ms=100)
    out = f.pad_silence("customer", 800, now=1.0)
    assert len(out) == 1 and out[0].payload == b"\xff" * 800
    g = Framer("c4", "pcm16le", 8000, ("agent",), frame_ms=100)
    with pytest.raises(ValueError, match="whole number of samples"):
        g.push("agent", b"\x00\x01\x02", now=0.0)
    with pytest.raises(ValueError):
        Framer("c5", "mulaw", 8000, ("agent",), frame_ms=50)
    with pytest.raises(ValueError):
        Framer("c5", "opus", 8000, ("agent",))


def test_frames_roundtrip_through_the_wire_record() -> None:
    from streams.contract.audio import AudioFrame

    f = Framer("call-9", "pcm16le", 8000, ("agent", "customer"), frame_ms=100)
    (frame,) = f.push("customer", b"\x01\x00" * 800, now=5.5)
    back = AudioFrame.from_bytes(frame.to_bytes())
    assert back == frame
