"""``callassist_consumer_lag{topic}`` for any consumer: records behind the high watermark.

Lag per partition = high watermark − the consumer's position (the offset of the next record
it will hand to the worker), summed per topic over the partitions this process is assigned
now; a topic with no assigned partition reads 0 (docs/metrics.md).

The high watermark comes from the fetch responses the consumer already receives
(``consumer.highwater(tp)``), not from ListOffsets: the embedded broker answers ListOffsets
wrongly for multi-record batches (design.md), and reading it from fetches costs no request.
A partition that has not had a fetch response yet has no known high watermark and counts 0.

One sampler per process, run on the consumer's own event loop every ``interval_s`` (never
from the metrics HTTP thread: the consumer's state is not thread-safe).  Works with an
aiokafka ``AIOKafkaConsumer`` (:meth:`ConsumerLag.sample_aiokafka`) and a Faust app's
consumer (:meth:`ConsumerLag.sample_faust`).  Only the topics given at construction become
label values, so changelog and internal topics never leak into the series.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from streams.platform.metrics_catalogue import SharedSeries

log = logging.getLogger(__name__)


class _TP(Protocol):
    topic: str
    partition: int


def lag_by_topic(
    topics: Iterable[str], partitions: Iterable[tuple[str, int | None, int | None]]
) -> dict[str, int]:
    """Sum ``highwater - position`` per topic over ``(topic, highwater, position)`` triples.

    Unknown highwater or position (no fetch yet, position being reset) counts 0; a position past
    the highwater (a stale highwater from the previous fetch) also counts 0, never negative.
    Topics outside ``topics`` are ignored; every topic in ``topics`` gets a value.
    """
    out = dict.fromkeys(topics, 0)
    for topic, highwater, position in partitions:
        if topic in out and highwater is not None and position is not None:
            out[topic] += max(0, highwater - position)
    return out


class ConsumerLag:
    """The ``callassist_consumer_lag`` gauge of one process, and samplers that keep it current."""

    def __init__(self, registry: CollectorRegistry, topics: Iterable[str], interval_s: float = 5.0) -> None:
        self.topics = tuple(dict.fromkeys(topics))
        self.interval_s = interval_s
        self.gauge = SharedSeries.of(registry).consumer_lag  # one family per registry, with the other shared series
        self.publish({})  # every topic reads 0 from the first scrape on

    def publish(self, lag: dict[str, int]) -> None:
        for topic in self.topics:
            self.gauge.labels(topic).set(lag.get(topic, 0))

    # -- samplers ---------------------------------------------------------------------------
    async def sample_aiokafka(self, consumer: Any) -> dict[str, int]:
        """Lag of an ``AIOKafkaConsumer`` (subscribed or manually assigned)."""
        triples = []
        for tp in list(consumer.assignment()):
            try:
                highwater = consumer.highwater(tp)
                position = None
                if highwater is not None:
                    # position() only waits while the position is being reset (after a rebalance).
                    # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that arrives as
                    # position() completes, and stop() then waited for this loop forever (seen in CI)
                    async with asyncio.timeout(1.0):
                        position = await consumer.position(tp)
            except Exception as exc:  # revoked mid-sample (AssertionError, IllegalStateError) or timed out
                log.debug("lag of %s unknown now: %s", tp, exc)
                highwater = position = None
            triples.append((tp.topic, highwater, position))
        return lag_by_topic(self.topics, triples)

    def sample_faust(self, app: Any) -> dict[str, int]:
        """Lag of a Faust app's consumer: high watermark − (last offset read + 1).

        "Read" is Faust's: handed to the agent's stream buffer (at most the stream buffer size
        ahead of what the agent has processed).
        """
        consumer = app.consumer
        read = getattr(consumer, "_read_offset", {})  # Faust's own bookkeeping of the last offset read
        try:
            assigned = list(consumer.assignment())
        except Exception:  # the consumer thread is not started yet (or stopping): nothing assigned
            assigned = []
        triples = []
        for tp in assigned:
            if tp.topic not in self.topics:
                continue  # table changelogs and Faust's internal topics are not catalogue labels
            try:
                highwater = consumer.highwater(tp)
            except Exception as exc:  # revoked mid-sample
                log.debug("lag of %s unknown now: %s", tp, exc)
                continue
            last = read.get(tp)
            # nothing read yet: everything up to the highwater is waiting (committed offset 0 on a new group)
            position = last + 1 if last is not None else _committed(consumer, tp)
            triples.append((tp.topic, highwater, position))
        return lag_by_topic(self.topics, triples)

    # -- loops ------------------------------------------------------------------------------
    async def run(self, sample: Callable[[], Awaitable[dict[str, int]] | dict[str, int]]) -> None:
        """Sample and publish every ``interval_s`` until cancelled; a failing sample never stops it."""
        while True:
            try:
                result = sample()
                lag = await result if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future) else result
                self.publish(lag)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except Exception:  # metrics must never take a worker down
                log.exception("consumer lag sample failed")
            await asyncio.sleep(self.interval_s)

    def start_aiokafka(self, consumer: Any) -> asyncio.Task[None]:
        """Start sampling ``consumer`` on the running loop; cancel the task (or :func:`stop`) at shutdown."""
        return asyncio.get_running_loop().create_task(self.run(lambda: self.sample_aiokafka(consumer)),
                                                      name="consumer-lag")


async def stop(task: asyncio.Task[None] | None) -> None:
    """Cancel a sampler task and wait until it has ended.

    Cancels again while it runs: one swallowed cancellation (library code that catches it) must not
    turn a worker's shutdown into an endless wait.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if not task.cancelled():
        with contextlib.suppress(Exception):
            task.result()  # retrieved: a sampler error was logged by run() already


def _committed(consumer: Any, tp: _TP) -> int | None:
    committed = getattr(consumer, "_committed_offset", {}).get(tp)
    return int(committed) if committed is not None else None
