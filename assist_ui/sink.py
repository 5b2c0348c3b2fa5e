"""QA sink: ``qa.calls`` → redact → QA store, idempotent by ``call_id``.

At-least-once: offsets are committed only after the batch is in the store, and the store
treats a re-delivered summary as a no-op (same content hash) or a replacement (a re-scored
call; reviewers' verdicts are kept).  A record that cannot be decoded is logged (topic,
partition, offset; never its text) and skipped so it cannot block the partition; a store
failure is retried with back-off and the offsets are not committed until it succeeds, so
nothing is lost when the database is briefly down.

A write the store refuses *because of the record* (a constraint or data error, a value
the JSON encoder rejects) is not an outage: it would fail the same way forever, so it is
counted as malformed and skipped.  While a store outage lasts longer than
``stall_after_s`` the sink reports itself unhealthy and ``/readyz`` says not ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from typing import Any

import asyncpg

from assist_ui.metrics import UiMetrics
from assist_ui.settings import UiSettings
from assist_ui.store.base import QaStore
from streams.contract.codec import RecordDecodeError, decode
from streams.contract.records import CallSummary

log = logging.getLogger(__name__)


class QaSink:
    def __init__(
        self, store: QaStore, metrics: UiMetrics, max_backoff_s: float = 10.0, topic: str = "qa.calls",
        stall_after_s: float = 30.0,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.max_backoff_s = max_backoff_s
        self.topic = topic
        self.stall_after_s = stall_after_s
        self._failing_since: float | None = None  # monotonic time the current store outage began

    @property
    def healthy(self) -> bool:
        """False while the store has been failing for longer than ``stall_after_s``."""
        return self._failing_since is None or time.monotonic() - self._failing_since < self.stall_after_s

    async def handle(self, value: bytes | str | dict[str, Any] | None, where: str = "") -> str:
        """Store one qa.calls record: 'inserted' | 'updated' | 'duplicate' | 'malformed'.

        Store errors propagate (the caller retries); only decode errors are final.
        """
        try:
            summary = decode(CallSummary, value)
            body = summary.asdict()
            # nested records (segments, alerts, ...) to plain dicts, as the store keeps JSON
            body = {k: ([_plain(x) for x in v] if isinstance(v, list) else v) for k, v in body.items()}
            if not body.get("call_id"):
                raise RecordDecodeError("CallSummary: empty call_id")
        except RecordDecodeError as exc:
            log.warning("qa sink: skipping malformed record %s: %s", where, exc)
            self.metrics.sink_calls.labels("malformed").inc()
            self.metrics.record_malformed(self.topic)
            return "malformed"
        try:
            result = await self.store.put_call(body)
        except RECORD_FAULTS as exc:
            log.warning("qa sink: store refused record %s (%s: %s); skipping it as malformed",
                        where, type(exc).__name__, str(exc)[:200])
            self.metrics.sink_calls.labels("malformed").inc()
            self.metrics.record_malformed(self.topic)
            return "malformed"
        self.metrics.sink_calls.labels(result).inc()
        return result

    async def handle_until_stored(self, value: Any, stop: asyncio.Event, where: str = "") -> str:
        backoff = 0.2
        while True:
            try:
                result = await self.handle(value, where)
                self._failing_since = None
                return result
            except Exception as exc:
                if stop.is_set():
                    raise
                if self._failing_since is None:
                    self._failing_since = time.monotonic()
                log.error("qa sink: store failed for %s (%s: %s); retrying in %.1f s",
                          where, type(exc).__name__, exc, backoff)
                self.metrics.sink_calls.labels("retry").inc()
                self.metrics.error("storage")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, self.max_backoff_s)


#: store errors caused by the record itself, not by the store being unavailable
RECORD_FAULTS: tuple[type[BaseException], ...] = (
    ValueError, TypeError, RecursionError, sqlite3.IntegrityError, sqlite3.DataError,
    asyncpg.DataError, asyncpg.IntegrityConstraintViolationError,
)


def _plain(value: Any) -> Any:
    if hasattr(value, "asdict"):
        return {k: _plain(v) for k, v in value.asdict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


async def consume_qa_calls(
    settings: UiSettings,
    sink: QaSink,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    consumers: dict[str, Any] | None = None,
) -> None:
    """Run the sink on ``qa.calls`` (consumer group ``ui_sink_group``) until ``stop`` is set."""
    from streams.platform.kafka_clients import make_consumer, start_client

    consumer = make_consumer(settings, settings.ui_sink_group, settings.topic_qa_calls)
    await start_client(consumer, settings)
    if ready is not None:
        ready.set()
    if consumers is not None:
        consumers["sink"] = consumer
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500, max_records=200)
            for tp, messages in batches.items():
                for message in messages:
                    await sink.handle_until_stored(message.value, stop, f"{tp.topic}[{tp.partition}]@{message.offset}")
            if batches:
                await consumer.commit()
    finally:
        if consumers is not None:
            consumers.pop("sink", None)
        await consumer.stop()
