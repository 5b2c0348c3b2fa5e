"""The recording sink against the real embedded broker: calls.audio → FLAC per call and channel.

Real audio (the sample call, 8 kHz µ-law frames like ingest sends) goes in; the stored FLAC
files must hold exactly the decoded audio of both channels, with duplicates and a malformed
record skipped, and nothing lost when the sink is stopped half-way and started again.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from prometheus_client import CollectorRegistry

from pipeline.recordings.settings import RecordingSettings
from pipeline.recordings.worker import RecordingSink
from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent
from streams.platform.audio_codec import mulaw_to_pcm16, pcm16_to_mulaw
from streams.platform.kafka_clients import ensure_topics, make_producer, start_client
from streams.platform.recording_store import RecordingStore

pytestmark = pytest.mark.integration

FRAME_S = 0.2
SECONDS = 12.0


def _frames(call_id: str, channel: str, path: Path) -> list[AudioFrame]:
    y, sr = sf.read(path, dtype="int16")
    y = y[: int(SECONDS * sr)]
    n = int(FRAME_S * sr)
    return [
        AudioFrame(call_id, channel, k, i / sr, "mulaw", sr, pcm16_to_mulaw(y[i : i + n]), captured_at=time.time())
        for k, i in enumerate(range(0, y.size, n))
    ]


async def _send(settings: RecordingSettings, records: list[tuple[str, str, bytes]]) -> None:
    producer = make_producer(settings)
    await start_client(producer, settings)
    try:
        futs = [await producer.send(topic, key=key.encode(), value=value) for topic, key, value in records]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


async def _run_until(sink: RecordingSink, done: Any, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not done():
        await sink.step(timeout_ms=100)


async def test_sink_writes_both_channels_and_survives_a_restart(make_settings: Any, shared_data: Path) -> None:
    settings: RecordingSettings = make_settings(
        RecordingSettings, recordings_end_grace_s=0.3, recordings_group_id="rec-it", broker_connect_timeout_s=30
    )
    await ensure_topics(settings, [settings.topic_audio, settings.topic_events])
    calls = shared_data / "calls"
    agent = _frames("call-r1", "agent", calls / "auto_repairs_40_agent.wav")
    cust = _frames("call-r1", "customer", calls / "auto_repairs_40_caller.wav")
    half = len(agent) // 2
    first = agent[:half] + cust[:half]
    second = agent[half:] + cust[half:] + agent[:5]  # redelivered duplicates
    audio = settings.topic_audio

    sink = RecordingSink(settings, CollectorRegistry())
    await sink.start()
    await _send(settings, [(audio, f.call_id, f.to_bytes()) for f in first] + [(audio, "call-r1", b"junk")])
    await _run_until(sink, lambda: sink.metrics.frames.labels("spooled")._value.get() >= len(first), 30)
    assert sink.metrics.frames.labels("malformed")._value.get() == 1
    await sink.close()  # stopped half-way: nothing written yet, the spool is on disk
    store = RecordingStore(settings.store_dir)
    assert store.meta("call-r1") is None

    ended = CallEvent(call_id="call-r1", kind="ended", ts=time.time())
    await _send(settings, [(audio, f.call_id, f.to_bytes()) for f in second] + [
        (settings.topic_events, "call-r1", ended.to_bytes())
    ])
    sink2 = RecordingSink(settings, CollectorRegistry())
    await sink2.start()
    assert "call-r1" in sink2.calls  # recovered from the spool
    try:
        await _run_until(sink2, lambda: store.meta("call-r1") is not None, 40)
    finally:
        await sink2.close()
    assert sink2.metrics.frames.labels("duplicate")._value.get() == 5
    meta = store.meta("call-r1")
    assert meta is not None and set(meta["channels"]) == {"agent", "customer"}
    for channel, frames in (("agent", agent), ("customer", cust)):
        got = store.read_channel("call-r1", channel)
        assert got is not None
        samples, rate = got
        expected = np.concatenate([mulaw_to_pcm16(f.payload) for f in frames])
        assert rate == 8000
        assert np.array_equal(samples, expected)  # every frame, once, in place
        assert store.channel_path("call-r1", channel).stat().st_size < expected.nbytes  # compressed
    assert not any(settings.spool_dir.iterdir())  # spool removed after the write


async def test_end_event_before_the_audio_is_not_lost(make_settings: Any, shared_data: Path) -> None:
    # calls.events and calls.audio are different topics: the end may be read first
    settings: RecordingSettings = make_settings(
        RecordingSettings, recordings_end_grace_s=2.0, recordings_group_id="rec-it-end", broker_connect_timeout_s=30)
    await ensure_topics(settings, [settings.topic_audio, settings.topic_events])
    sink = RecordingSink(settings, CollectorRegistry())
    await sink.start()
    store = RecordingStore(settings.store_dir)
    try:
        ended = CallEvent(call_id="call-r2", kind="ended", ts=time.time())
        await _send(settings, [(settings.topic_events, "call-r2", ended.to_bytes())])
        await _run_until(sink, lambda: "call-r2" in sink.calls, 20)
        frames = _frames("call-r2", "agent", shared_data / "calls" / "auto_repairs_40_agent.wav")[:10]
        await _send(settings, [(settings.topic_audio, f.call_id, f.to_bytes()) for f in frames])
        await _run_until(sink, lambda: store.meta("call-r2") is not None, 20)  # idle timeout is 300 s
    finally:
        await sink.close()
    got = store.read_channel("call-r2", "agent")
    assert got is not None and got[0].size == 10 * 1600
