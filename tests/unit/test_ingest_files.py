"""Replay file reading: stereo / mono pairs, WAV / FLAC / µ-law, rates kept or resampled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.ingest.files import AudioFileError, CallAudio, target_rate
from streams.platform.audio_codec import mulaw_to_pcm16

pytestmark = pytest.mark.unit


def tone(rate: int, seconds: float, freq: float = 440.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def collect(audio: CallAudio, chunk_ms: int = 100) -> dict[str, bytes]:
    out = {"agent": b"", "customer": b""}
    for chunk in audio.chunks(chunk_ms):
        for ch, data in chunk.items():
            out[ch] += data
    return out


def test_stereo_pcm_wav_left_agent_right_customer(tmp_path: Path) -> None:
    left, right = tone(16000, 1.03, 300), tone(16000, 1.03, 900)
    path = tmp_path / "call.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="PCM_16")
    audio = CallAudio([path])
    assert (audio.encoding, audio.sample_rate) == ("pcm16le", 16000)
    assert audio.duration == pytest.approx(1.03)
    got = collect(audio, chunk_ms=100)
    expect = sf.read(path, dtype="int16")[0]
    assert got["agent"] == expect[:, 0].astype("<i2").tobytes()
    assert got["customer"] == expect[:, 1].astype("<i2").tobytes()


def test_mulaw_wav_bytes_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    sf.write(path, np.stack([tone(8000, 0.5, 300), tone(8000, 0.5, 700)], axis=1), 8000, subtype="ULAW")
    audio = CallAudio([path])
    assert (audio.encoding, audio.sample_rate) == ("mulaw", 8000)
    got = collect(audio, chunk_ms=20)
    assert len(got["agent"]) == len(got["customer"]) == 4000
    decoded = sf.read(path, dtype="int16")[0]  # libsndfile's own µ-law decoding
    assert np.array_equal(mulaw_to_pcm16(got["agent"]), decoded[:, 0])
    assert np.array_equal(mulaw_to_pcm16(got["customer"]), decoded[:, 1])


def test_raw_mulaw_pair(tmp_path: Path) -> None:
    a, c = tmp_path / "agent.ul", tmp_path / "customer.ulaw"
    a.write_bytes(bytes(range(256)) * 10)
    c.write_bytes(b"\x7f" * 1000)  # shorter channel just ends earlier
    audio = CallAudio([a, c])
    assert (audio.encoding, audio.sample_rate, audio.duration) == ("mulaw", 8000, 0.32)
    got = collect(audio)
    assert got == {"agent": bytes(range(256)) * 10, "customer": b"\x7f" * 1000}


def test_flac_24bit_pair_keeps_its_rate(tmp_path: Path) -> None:
    a, c = tmp_path / "a.flac", tmp_path / "c.flac"
    sf.write(a, tone(44100, 0.5), 44100, subtype="PCM_24")
    sf.write(c, tone(44100, 0.5, 1000), 44100, subtype="PCM_24")
    audio = CallAudio([a, c])
    assert (audio.encoding, audio.sample_rate) == ("pcm16le", 44100)
    got = collect(audio)
    assert len(got["agent"]) == len(got["customer"]) == 44100  # 0.5 s x 2 bytes
    back = np.frombuffer(got["agent"], "<i2").astype(np.float32) / 32768
    assert np.max(np.abs(back - tone(44100, 0.5))) < 1e-3


def test_unaccepted_rate_is_resampled(tmp_path: Path) -> None:
    path = tmp_path / "hi.wav"
    sf.write(path, np.stack([tone(96000, 1.0, 500), tone(96000, 1.0, 500)], axis=1), 96000)
    audio = CallAudio([path])
    assert (audio.encoding, audio.sample_rate) == ("pcm16le", 48000)
    got = collect(audio)
    n = len(got["agent"]) // 2
    assert abs(n - 48000) <= 2  # the stream resampler flushes its tail at the end
    x = np.frombuffer(got["agent"], "<i2")[1000:47000].astype(np.float32) / 32768
    # still a 500 Hz tone: dominant FFT bin
    spectrum = np.abs(np.fft.rfft(x))
    assert np.argmax(spectrum) * 48000 / len(x) == pytest.approx(500, abs=3)


def test_mixed_pair_goes_to_a_common_pcm_rate(tmp_path: Path) -> None:
    a, c = tmp_path / "a.ul", tmp_path / "c.wav"
    a.write_bytes(b"\xff" * 8000)
    sf.write(c, tone(16000, 1.0), 16000)
    audio = CallAudio([a, c])
    assert (audio.encoding, audio.sample_rate) == ("pcm16le", 16000)
    got = collect(audio)
    assert abs(len(got["agent"]) - 32000) <= 4 and len(got["customer"]) == 32000


def test_target_rate() -> None:
    assert target_rate([8000, 8000]) == 8000
    assert target_rate([8000, 16000]) == 16000
    assert target_rate([37800]) == 44100
    assert target_rate([192000]) == 48000
    assert target_rate([6000]) == 8000


def test_real_call_pair(shared_data: Path) -> None:
    d = shared_data / "calls"
    audio = CallAudio([d / "auto_repairs_40_agent.wav", d / "auto_repairs_40_caller.wav"])
    assert (audio.encoding, audio.sample_rate) == ("pcm16le", 8000)
    assert audio.duration == pytest.approx(245.38, abs=0.01)
    first = next(iter(audio.chunks(100)))
    assert len(first["agent"]) == len(first["customer"]) == 1600
    audio.close()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: [p / "missing.wav"], "no such file"),
        (lambda p: [_write(p / "junk.wav", b"this is not audio" * 50)], "not a readable audio file"),
        (lambda p: [_mono(p / "m.wav")], "must be stereo"),
        (lambda p: [_mono(p / "a.wav"), _stereo(p / "b.wav")], "two mono files"),
        (lambda p: [_mono(p / "a.wav")] * 3, "got 3 files"),
        (lambda p: [_write(p / "empty.ul", b"")] * 2, "empty"),
        (lambda p: [_multi(p / "x.wav")], "3 channel"),
    ],
)
def test_bad_files_say_why(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AudioFileError, match=message):
        CallAudio(make(tmp_path))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _mono(path: Path) -> Path:
    sf.write(path, tone(8000, 0.1), 8000)
    return path


def _stereo(path: Path) -> Path:
    sf.write(path, np.zeros((800, 2), np.float32), 8000)
    return path


def _multi(path: Path) -> Path:
    sf.write(path, np.zeros((800, 3), np.float32), 8000)
    return path
