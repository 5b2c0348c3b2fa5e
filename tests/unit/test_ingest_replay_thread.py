"""Replay keeps file work off the event loop: probing, reading, decoding and resampling run in a thread.

The replay path is the real one (``replay_call`` into the in-process protocol core); only the
Kafka sink is a fake. The file reader, the resampler and the probe are wrapped to record the
thread they run on, and every one of them must be a thread other than the event loop's.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from pipeline.ingest import files
from pipeline.ingest.replay import replay_call
from pipeline.ingest.settings import IngestSettings
from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent
from streams.platform.audio_codec import StreamResampler

pytestmark = pytest.mark.unit


class FakeSink:
    """Stands in for KafkaSink: keeps what would be produced."""

    def __init__(self) -> None:
        self.frames: list[AudioFrame] = []
        self.events: list[CallEvent] = []

    async def send_audio(self, frame: AudioFrame) -> bool:
        self.frames.append(frame)
        return True

    async def send_event(self, event: CallEvent) -> None:
        self.events.append(event)


def tone(path: Path, rate: int, seconds: float, hz: float) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


def recording(calls: dict[str, set[int]], name: str, fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.setdefault(name, set()).add(threading.get_ident())
        return fn(*args, **kwargs)

    return wrapper


async def test_replay_reads_decodes_and_resamples_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # agent at 8 kHz, customer at 16 kHz: the call goes out at 16 kHz, so the agent is resampled
    agent = tone(tmp_path / "agent.wav", 8000, 1.0, 300.0)
    customer = tone(tmp_path / "customer.wav", 16000, 1.0, 500.0)
    calls: dict[str, set[int]] = {}
    monkeypatch.setattr(files, "probe", recording(calls, "probe", files.probe))
    monkeypatch.setattr(files._Source, "read", recording(calls, "read", files._Source.read))
    monkeypatch.setattr(StreamResampler, "push", recording(calls, "resample", StreamResampler.push))

    sink = FakeSink()
    loop_thread = threading.get_ident()
    res = await replay_call(IngestSettings(), [agent, customer], speed=0, call_id="offloop-1", sink=sink)  # type: ignore[arg-type]

    assert (res.encoding, res.sample_rate, res.errors) == ("pcm16le", 16000, [])
    assert res.audio_s == pytest.approx(1.0, abs=0.01)
    assert [e.kind for e in sink.events] == ["started", "ended"]
    assert {f.channel for f in sink.frames} == {"agent", "customer"}
    assert set(calls) == {"probe", "read", "resample"}
    for name, threads in calls.items():
        assert loop_thread not in threads, f"{name} ran on the event loop's thread"


async def test_replay_paced_in_real_time_still_reads_off_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "stereo.wav"
    t = np.arange(8000 // 2) / 8000
    sf.write(path, np.stack([np.sin(2 * np.pi * 300 * t), np.sin(2 * np.pi * 450 * t)], axis=1) * 0.3, 8000)
    calls: dict[str, set[int]] = {}
    monkeypatch.setattr(files._Source, "read", recording(calls, "read", files._Source.read))

    sink = FakeSink()
    loop = asyncio.get_running_loop()
    start = loop.time()
    res = await replay_call(IngestSettings(), [path], speed=2.0, call_id="offloop-2", sink=sink)  # type: ignore[arg-type]

    assert loop.time() - start >= 0.2  # 0.5 s of audio at 2x: paced, not dumped
    assert res.audio_s == pytest.approx(0.5, abs=0.01)
    assert calls["read"] and threading.get_ident() not in calls["read"]
