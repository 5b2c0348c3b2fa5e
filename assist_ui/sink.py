"""QA sink: ``qa.calls`` → redact → QA store, idempotent by ``call_id``.

At-least-once: offsets are committed only after the batch is in the store, and the store
treats a re-delivered summary as a no-op (same content hash) or a replacement (a re-scored
call; reviewers' verdicts are kept).  A record that cannot be decoded is logged (topic,
partition, offset; never its text) and skipped so it cannot block the partition; a store
failure is retried with back-off and the offsets are not committed until it succeeds, so
nothing is lost when the database is briefly down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from assist_ui.metrics import UiMetrics
from assist_ui.settings import UiSettings
from assist_ui.store.base import QaStore
from streams.records import CallSummary, RecordDecodeError, decode

log = logging.getLogger(__name__)


class QaSink:
    def __init__(self, store: QaStore, metrics: UiMetrics, max_backoff_s: float = 10.0, topic: str = "qa.calls") -> None:
        self.store = store
        self.metrics = metrics
        self.max_backoff_s = max_backoff_s
        self.topic = topic

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
        result = await self.store.put_call(body)
        self.metrics.sink_calls.labels(result).inc()
        return result

    async def handle_until_stored(self, value: Any, stop: asyncio.Event, where: str = "") -> str:
        backoff = 0.2
        while True:
            try:
                return await self.handle(value, where)
            except Exception as exc:
                if stop.is_set():
                    raise
                log.error("qa sink: store failed for %s (%s: %s); retrying in %.1f s",
                          where, type(exc).__name__, exc, backoff)
                self.metrics.sink_calls.labels("retry").inc()
                self.metrics.error("storage")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, self.max_backoff_s)


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
    from streams.kafka_clients import make_consumer, start_client

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
