"""Bounded hand-off from connections to the Kafka producer (backpressure lives here).

Connections put records into a byte-bounded FIFO; one sender task moves them into the
aiokafka producer, whose accumulator batches frames of many calls per request (linger)
and itself blocks when the broker is slow.  So a slow broker fills the FIFO, connections
wait for space (they stop reading, the websocket's bounded receive queue fills and TCP
pushes back on the client) and memory stays bounded.

A live call cannot be paused for long, so an audio frame that waits more than
``enqueue_timeout_s`` is dropped — counted in ``callassist_frames_dropped_total{reason="backpressure"}`` and
logged, never silently; its seq is then missing downstream, which consumers can see.
Call events never drop: they wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pipeline.ingest.metrics import IngestMetrics, RateLimitedLog
from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent

log = logging.getLogger(__name__)
T = TypeVar("T")


class ByteBoundedQueue(Generic[T]):
    """FIFO bounded by the sum of item sizes; waiting putters are served in arrival order."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: deque[tuple[T, int]] = deque()
        self._putters: deque[tuple[asyncio.Future[bool], T, int]] = deque()
        self._not_empty = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[T]:
        return [item for item, _n in self._items]

    @property
    def waiting_putters(self) -> int:
        return len(self._putters)

    def _fits(self, nbytes: int) -> bool:
        # an item larger than the bound still passes alone, or it would wait forever
        return not self._items or self.bytes + nbytes <= self.max_bytes

    def _append(self, item: T, nbytes: int) -> None:
        self._items.append((item, nbytes))
        self.bytes += nbytes
        self._not_empty.set()

    async def put(self, item: T, nbytes: int, max_wait: float | None = None) -> bool:
        """Enqueue ``item``; False if no space came within ``max_wait`` seconds (item not queued)."""
        if not self._putters and self._fits(nbytes):
            self._append(item, nbytes)
            return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        entry = (fut, item, nbytes)
        self._putters.append(entry)
        try:
            await asyncio.wait({fut}, timeout=max_wait)
        except asyncio.CancelledError:
            self._withdraw(entry)
            raise
        if not fut.done():  # timed out
            self._withdraw(entry)
            return False
        return True

    def _withdraw(self, entry: tuple[asyncio.Future[bool], T, int]) -> None:
        if not entry[0].done():  # done = _wake_putters already queued the item
            entry[0].cancel()
            self._putters.remove(entry)
            self._wake_putters()  # a smaller item behind the withdrawn one may fit now

    def _wake_putters(self) -> None:
        while self._putters and self._fits(self._putters[0][2]):
            fut, item, nbytes = self._putters.popleft()
            if not fut.done():
                self._append(item, nbytes)
                fut.set_result(True)

    async def get_many(self, max_items: int) -> list[T]:
        while not self._items:
            self._not_empty.clear()
            await self._not_empty.wait()
        out: list[T] = []
        while self._items and len(out) < max_items:
            item, nbytes = self._items.popleft()
            self.bytes -= nbytes
            out.append(item)
        self._wake_putters()
        return out


@dataclass(slots=True)
class _Record:
    topic: str
    key: bytes
    value: bytes
    kind: str  # "audio" | "started" | "ended"
    captured_at: float
    label: str  # "call:channel:seq" for logs
    channel: str = ""
    duration: float = 0.0


class KafkaSink:
    """Produces CallEvent / AudioFrame records keyed by call id through a bounded buffer.

    ``producer`` is an aiokafka ``AIOKafkaProducer`` (started by the caller) or anything with
    the same ``async send(topic, value, key=...) -> Future`` method.
    """

    def __init__(
        self,
        producer: Any,
        *,
        audio_topic: str,
        events_topic: str,
        metrics: IngestMetrics,
        buffer_bytes: int = 16 * 1024 * 1024,
        enqueue_timeout_s: float = 2.0,
    ) -> None:
        self.producer = producer
        self.audio_topic = audio_topic
        self.events_topic = events_topic
        self.metrics = metrics
        self.enqueue_timeout_s = enqueue_timeout_s
        self.queue: ByteBoundedQueue[_Record] = ByteBoundedQueue(buffer_bytes)
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Future[Any]] = set()
        self._warn = RateLimitedLog(log)
        self.delivered = 0
        self.failed = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ingest-sink")

    async def send_audio(self, frame: AudioFrame) -> bool:
        """Queue one frame; False when it was dropped because the buffer stayed full."""
        rec = _Record(
            self.audio_topic,
            frame.call_id.encode(),
            frame.to_bytes(),
            "audio",
            frame.captured_at,
            f"{frame.call_id}:{frame.channel}:{frame.seq}",
            frame.channel,
            frame.duration,
        )
        ok = await self.queue.put(rec, len(rec.value), max_wait=self.enqueue_timeout_s)
        self.metrics.buffer_bytes.set(self.queue.bytes)
        if not ok:
            self.metrics.dropped_frames.labels("backpressure").inc()
            self._warn.warning(
                "backpressure",
                "buffer full for %.1f s (broker slow?): dropped audio frame %s",
                self.enqueue_timeout_s,
                rec.label,
            )
        return ok

    async def send_event(self, event: CallEvent) -> None:
        rec = _Record(
            self.events_topic, event.call_id.encode(), event.to_bytes(), event.kind, 0.0, event.call_id
        )
        await self.queue.put(rec, len(rec.value), max_wait=None)
        self.metrics.buffer_bytes.set(self.queue.bytes)

    async def _run(self) -> None:
        while True:
            batch = await self.queue.get_many(64)
            self.metrics.buffer_bytes.set(self.queue.bytes)
            for rec in batch:
                try:
                    # awaits while aiokafka's per-partition batch is full: broker slowness reaches us here
                    fut = await self.producer.send(rec.topic, rec.value, key=rec.key)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # KafkaError, ProducerClosed, serialisation: count, log, go on
                    self._failed(rec, exc)
                    continue
                self._inflight.add(fut)
                fut.add_done_callback(lambda f, rec=rec: self._delivered(rec, f))

    def _delivered(self, rec: _Record, fut: asyncio.Future[Any]) -> None:
        self._inflight.discard(fut)
        exc = None if fut.cancelled() else fut.exception()
        if fut.cancelled() or exc is not None:
            self._failed(rec, exc or asyncio.CancelledError())
            return
        self.delivered += 1
        if rec.kind == "audio":
            self.metrics.frames_out.inc()
            self.metrics.audio_seconds.labels(rec.channel).inc(rec.duration)
            self.metrics.produce_lag.observe(max(0.0, time.time() - rec.captured_at))
        else:
            self.metrics.events_out.labels(rec.kind).inc()

    def _failed(self, rec: _Record, exc: BaseException) -> None:
        self.failed += 1
        self.metrics.error("broker")
        if rec.kind == "audio":
            self.metrics.dropped_frames.labels("broker").inc()
            self._warn.warning("broker", "audio frame %s not delivered: %r", rec.label, exc)
        else:
            log.error("call event %s/%s not delivered: %r", rec.label, rec.kind, exc)

    async def close(self, drain_s: float = 15.0) -> None:
        """Deliver what is buffered (up to ``drain_s`` seconds), then stop the sender."""
        deadline = time.monotonic() + drain_s
        while (len(self.queue) or self._inflight) and time.monotonic() < deadline:
            if self._task is None or self._task.done():
                break
            if not len(self.queue) and self._inflight:
                await asyncio.wait(set(self._inflight), timeout=max(0.0, deadline - time.monotonic()))
            else:
                await asyncio.sleep(0.01)
        left = len(self.queue) + len(self._inflight)
        if left:
            # in-flight records still get their delivery callback (counted there if they fail)
            log.error("shutdown: %d record(s) not delivered within %.0f s", left, drain_s)
            self.metrics.dropped_frames.labels("broker").inc(
                sum(1 for r in self.queue.items() if r.kind == "audio")
            )
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
