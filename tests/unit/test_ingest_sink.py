"""Bounded buffer between connections and the producer: waits, drops only with a count and a log.

The producer here is a stand-in with aiokafka's ``send`` contract whose speed the test
controls; the real broker is exercised in tests/integration/test_ingest_server.py.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from pipeline.ingest.metrics import IngestMetrics
from pipeline.ingest.sink import ByteBoundedQueue, KafkaSink
from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent

pytestmark = pytest.mark.unit


async def test_queue_bounds_bytes_and_serves_waiters_in_order() -> None:
    q: ByteBoundedQueue[str] = ByteBoundedQueue(max_bytes=10)
    assert await q.put("a", 6)
    assert await q.put("b", 4)
    assert not await q.put("x", 1, max_wait=0.01)  # full: times out, not queued
    waiters = [asyncio.create_task(q.put(name, 5)) for name in ("c", "d")]
    await asyncio.sleep(0)
    assert q.waiting_putters == 2
    assert await q.get_many(1) == ["a"]  # frees 6: "c" (5) fits, "d" must still wait
    assert len(q) == 2 and q.waiting_putters == 1
    await asyncio.sleep(0.01)
    assert waiters[0].done() and not waiters[1].done()
    assert await q.get_many(10) == ["b", "c"]
    await asyncio.sleep(0)
    assert await waiters[1] is True
    assert await q.get_many(10) == ["d"] and q.bytes == 0


async def test_queue_admits_an_oversized_item_alone_and_withdraws_cancelled_putters() -> None:
    q: ByteBoundedQueue[str] = ByteBoundedQueue(max_bytes=10)
    assert await q.put("big", 50)
    t = asyncio.create_task(q.put("next", 1))
    await asyncio.sleep(0)
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t
    assert q.waiting_putters == 0
    assert await q.get_many(10) == ["big"]
    assert len(q) == 0


class GatedProducer:
    """aiokafka-like producer: ``send`` blocks while the gate is closed (a stalled broker)."""

    def __init__(self, fail: bool = False) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.fail = fail

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future[Any]:
        await self.gate.wait()
        self.sent.append((topic, key, value))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.fail:
            fut.set_exception(RuntimeError("broker said no"))
        else:
            fut.set_result(None)
        return fut


def frame(seq: int, size: int = 1600) -> AudioFrame:
    return AudioFrame("c1", "agent", seq, seq * 0.2, "mulaw", 8000, b"\xff" * size, captured_at=1.0)


def value_of(metrics: IngestMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels or None) or 0.0


async def test_stalled_producer_blocks_then_drops_with_metric_and_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    producer = GatedProducer()
    producer.gate.clear()
    metrics = IngestMetrics()
    sink = KafkaSink(
        producer,
        audio_topic="a",
        events_topic="e",
        metrics=metrics,
        buffer_bytes=8000,
        enqueue_timeout_s=0.05,
    )
    sink.start()
    await sink.send_event(CallEvent(call_id="c1", kind="started", ts=1.0))
    results = []
    with caplog.at_level(logging.WARNING, logger="pipeline.ingest.sink"):
        for i in range(12):  # ~1.6 KB each; the buffer holds ~5
            results.append(await sink.send_audio(frame(i)))
    assert results[:4] == [True] * 4 and not all(results)
    dropped = results.count(False)
    assert value_of(metrics, "callassist_frames_dropped_total", reason="backpressure") == dropped
    assert "dropped audio frame c1:agent:" in caplog.text
    assert sink.queue.bytes <= 8000
    producer.gate.set()  # broker recovers: everything queued is delivered in order
    await sink.close(drain_s=2)
    seqs = [AudioFrame.from_bytes(v).seq for t, _k, v in producer.sent if t == "a"]
    assert seqs == sorted(seqs) and len(seqs) == 12 - dropped
    assert producer.sent[0][0] == "e" and all(k == b"c1" for _t, k, _v in producer.sent)
    assert value_of(metrics, "callassist_ingest_frames_out_total") == len(seqs)
    assert value_of(metrics, "callassist_audio_seconds_total", channel="agent") == pytest.approx(
        0.2 * len(seqs)
    )
    assert value_of(metrics, "callassist_ingest_events_out_total", kind="started") == 1


async def test_events_wait_instead_of_dropping() -> None:
    producer = GatedProducer()
    producer.gate.clear()
    sink = KafkaSink(producer, audio_topic="a", events_topic="e", metrics=IngestMetrics(), buffer_bytes=100)
    sink.start()
    await sink.send_event(CallEvent(call_id="c1", kind="started", ts=1.0))
    await asyncio.sleep(0.01)  # the sender took it and is stuck in send()
    await sink.send_event(CallEvent(call_id="c1", kind="x", ts=1.0))
    blocked = asyncio.create_task(sink.send_event(CallEvent(call_id="c1", kind="ended", ts=2.0)))
    await asyncio.sleep(0.05)
    assert not blocked.done()
    producer.gate.set()
    await asyncio.wait_for(blocked, 1)
    await sink.close(drain_s=1)
    assert len(producer.sent) == 3


async def test_delivery_failures_are_counted() -> None:
    producer = GatedProducer(fail=True)
    metrics = IngestMetrics()
    sink = KafkaSink(producer, audio_topic="a", events_topic="e", metrics=metrics)
    sink.start()
    await sink.send_audio(frame(0))
    await sink.send_event(CallEvent(call_id="c1", kind="ended", ts=1.0))
    await sink.close(drain_s=1)
    assert value_of(metrics, "callassist_frames_dropped_total", reason="broker") == 1
    assert (
        value_of(metrics, "callassist_errors_total", component="ingest", kind="broker") == 2
    )  # frame + event
