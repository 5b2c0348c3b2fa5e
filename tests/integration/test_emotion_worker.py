"""The live emotion worker against a real embedded broker and the real exported model.

Real audio (the sample customer-service call, 8 kHz, sent as µ-law frames like ingest does)
goes in on calls.audio; emotion readings must come out on calls.emotion, keyed by call_id,
once per window, with duplicates and bad records skipped; a silent call yields nothing.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from aiokafka.structs import TopicPartition
from prometheus_client import CollectorRegistry

from models.emotion.model import SIGNALS
from pipeline.emotion.settings import EmotionSettings
from pipeline.emotion.worker import EmotionWorker
from streams.contract.audio import AudioFrame
from streams.contract.codec import decode
from streams.contract.records import CallEvent, EmotionReading
from streams.platform.audio_codec import pcm16_to_mulaw
from streams.platform.kafka_clients import ensure_topics, make_consumer, make_producer, start_client

pytestmark = [pytest.mark.integration, pytest.mark.both_brokers]

FRAME_S = 0.2
SECONDS = 24.0


def _frames(call_id: str, channel: str, y: np.ndarray, sr: int) -> list[AudioFrame]:
    n = int(FRAME_S * sr)
    pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16)
    return [
        AudioFrame(call_id, channel, k, i / sr, "mulaw", sr, pcm16_to_mulaw(pcm[i : i + n]), captured_at=time.time())
        for k, i in enumerate(range(0, pcm.size, n))
    ]


async def _read_emotion(settings: EmotionSettings, until: Any, wait_s: float) -> list[tuple[bytes, EmotionReading]]:
    consumer = make_consumer(settings, None, settings.topic_emotion)
    await start_client(consumer, settings)
    got: list[tuple[bytes, EmotionReading]] = []
    deadline = time.monotonic() + wait_s
    try:
        while time.monotonic() < deadline and not until(got):
            for _tp, msgs in (await consumer.getmany(timeout_ms=200)).items():
                got += [(m.key, decode(EmotionReading, m.value)) for m in msgs]
    finally:
        await consumer.stop()
    return got


async def test_worker_turns_call_audio_into_emotion_readings(make_settings: Any, shared_data: Path) -> None:
    settings: EmotionSettings = make_settings(EmotionSettings, emotion_end_grace_s=0.5, emotion_group_id="emo-it")
    calls = shared_data / "calls"
    cust, sr = sf.read(calls / "auto_repairs_40_caller.wav", dtype="float32")
    agent, _ = sf.read(calls / "auto_repairs_40_agent.wav", dtype="float32")
    n = int(SECONDS * sr)
    frames = _frames("call-a", "customer", cust[:n], sr) + _frames("call-a", "agent", agent[:n], sr)
    frames += frames[:10]  # at-least-once redelivery: duplicates must be skipped
    silent = _frames("call-silent", "customer", np.zeros(int(8 * sr), np.float32), sr)

    registry = CollectorRegistry()
    worker = EmotionWorker(settings, registry)
    await ensure_topics(settings, [settings.topic_audio, settings.topic_events, settings.topic_emotion])
    await worker.start()
    task = asyncio.create_task(worker.run())
    producer = make_producer(settings)
    await start_client(producer, settings)
    sent = []
    try:
        for f in frames + silent:
            sent.append(await producer.send(settings.topic_audio, key=f.call_id.encode(), value=f.to_bytes()))
        sent.append(await producer.send(settings.topic_audio, key=b"call-a", value=b"not an audio frame"))
        sent.append(await producer.send(settings.topic_events, key=b"call-x", value=b"{broken json"))
        for cid in ("call-a", "call-silent"):
            ev = CallEvent(call_id=cid, kind="ended", ts=time.time())
            sent.append(await producer.send(settings.topic_events, key=cid.encode(), value=ev.to_bytes()))
        metas = await asyncio.gather(*sent)

        def done(got: list[tuple[bytes, EmotionReading]]) -> bool:
            # the call's last windows come from the flush after 'ended'
            return any(r.channel == "customer" and r.end >= SECONDS - 0.01 for _k, r in got)

        got = await _read_emotion(settings, done, wait_s=120)
        await asyncio.sleep(1.0)  # any late record for the silent call would be here now
        got = await _read_emotion(settings, lambda g: False, wait_s=2.0)
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()

    readings = [r for _k, r in got]
    assert readings, "no emotion readings came out"
    assert all(k == r.call_id.encode() for k, r in got)
    assert {r.call_id for r in readings} == {"call-a"}, "silence must produce no emotion claims"
    ids = [r.window_id for r in readings]
    assert len(ids) == len(set(ids)), "duplicate frames produced duplicate windows"
    for r in readings:
        assert set(r.probs) == set(SIGNALS)
        assert all(0.0 <= v <= 1.0 for v in r.probs.values())
        assert 0.0 <= r.arousal <= 1.0 and r.state in ("neutral", "agitated")
        assert r.end - r.start <= 3.0 + 1e-6 and r.voiced_ratio > 0
    by_channel = {c: [r for r in readings if r.channel == c] for c in ("customer", "agent")}
    assert len(by_channel["customer"]) >= 5 and len(by_channel["agent"]) >= 5
    assert all(r.hints == [] for r in by_channel["customer"])  # delivery hints are for the agent only
    assert max(r.end for r in by_channel["customer"]) == pytest.approx(SECONDS, abs=0.01)

    def sample(name: str, **labels: str) -> float:
        v = registry.get_sample_value(name, labels)
        return 0.0 if v is None else v

    assert sample("callassist_emotion_records_total", kind="audio", result="bad") == 1
    assert sample("callassist_emotion_records_total", kind="events", result="bad") == 1
    assert sample("callassist_emotion_records_total", kind="audio", result="duplicate") == 10
    assert sample("callassist_emotion_windows_total", result="silent") >= 8  # the silent call's windows
    assert worker.engine is not None and not worker.engine.calls  # ended calls left no state behind

    # every consumed offset was committed (after the outputs were produced)
    ends: dict[TopicPartition, int] = {}
    for m in metas:
        tp = TopicPartition(m.topic, m.partition)
        ends[tp] = max(ends.get(tp, 0), m.offset + 1)
    consumer = make_consumer(settings, "emo-it")
    await start_client(consumer, settings)
    try:
        consumer.assign(list(ends))
        committed = {tp: await consumer.committed(tp) for tp in ends}
    finally:
        await consumer.stop()
    assert committed == ends
