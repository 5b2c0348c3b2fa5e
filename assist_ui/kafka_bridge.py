"""Live topics → live state → fan-out.

:class:`LiveBridge` is the in-process record source: anything that has a topic's record
bytes calls :meth:`LiveBridge.handle` (the Kafka consumer below, or a test).  It decodes
with the wire contract, folds the record into :class:`LiveState`, publishes the change to
the sockets and marks the call dirty for the supervisor wall, whose rows are coalesced
and sent every ``ui_wall_interval_s`` (a wall of 1000 calls must not get 1000 messages per
transcript partial).

:func:`consume_live` reads ``calls.events``, ``calls.transcripts``, ``assist.suggestions``,
``assist.alerts`` and ``assist.emotion`` *without* a consumer group: every UI replica
needs every call, since any agent may be connected to any replica.  It starts
``ui_lookback_s`` back so a restarted server shows the calls in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from assist_ui.fanout import Hub
from assist_ui.live_state import LiveRecordError, LiveState
from assist_ui.metrics import RecordTiming, UiMetrics
from assist_ui.settings import UiSettings
from streams.contract.codec import RecordDecodeError, decode
from streams.contract.records import Alert, CallEvent, EmotionState, Suggestion, TranscriptSegment

log = logging.getLogger(__name__)

RECORD_TYPES: dict[str, type] = {
    "event": CallEvent,
    "segment": TranscriptSegment,
    "suggestion": Suggestion,
    "alert": Alert,
    "emotion": EmotionState,
}


def topic_kinds(settings: UiSettings) -> dict[str, str]:
    """topic name -> live record kind."""
    return {
        settings.topic_events: "event",
        settings.topic_transcripts: "segment",
        settings.topic_suggestions: "suggestion",
        settings.topic_alerts: "alert",
        settings.topic_assist_emotion: "emotion",
    }


class LiveBridge:
    def __init__(
        self,
        state: LiveState,
        hub: Hub,
        metrics: UiMetrics,
        wall_interval_s: float = 0.5,
        topics: dict[str, str] | None = None,
    ) -> None:
        self.state = state
        self.hub = hub
        self.metrics = metrics
        self.wall_interval_s = wall_interval_s
        self.topic_of = {kind: topic for topic, kind in (topics or {}).items()}  # for metric labels
        self._dirty: set[str] = set()
        self._removed: list[str] = []

    def handle(
        self, kind: str, value: bytes | str | dict[str, Any] | None, now: float | None = None,
        kafka_ts: float | None = None,
    ) -> bool:
        """Apply one record; False when it was skipped (malformed, duplicate, not applicable).

        ``kafka_ts``: the record's Kafka timestamp (epoch seconds), for
        ``callassist_record_to_websocket_seconds``.
        """
        cls = RECORD_TYPES.get(kind)
        if cls is None:
            raise ValueError(f"unknown live record kind {kind!r}")
        try:
            rec: Any = decode(cls, value)
            change = self.state.apply(kind, rec.asdict(), time.time() if now is None else now)
        except (RecordDecodeError, LiveRecordError) as exc:
            # log the reason, never the payload (it holds what the customer said)
            log.warning("skipping %s record: %s", kind, exc)
            self.metrics.records_skipped.labels("malformed").inc()
            self.metrics.record_malformed(self.topic_of.get(kind, kind))
            return False
        except Exception:
            # a record the live state cannot fold would fail the same way after every restart
            # (the look-back re-reads it): skip it rather than crash-loop the bridge
            log.exception("skipping %s record: the live state could not apply it", kind)
            self.metrics.records_skipped.labels("error").inc()
            self.metrics.error("internal")
            return False
        if change is None:
            self.metrics.records_skipped.labels("duplicate").inc()
            return False
        self.metrics.records.labels(kind).inc()
        self.metrics.active_calls.set(len(self.state))
        timing = RecordTiming(self.topic_of.get(kind, kind), kafka_ts) if kafka_ts else None
        self.hub.publish(change, timing)
        self._dirty.add(change.call_id)
        return True

    def flush_wall(self) -> int:
        """Send the wall rows of calls changed since the last flush."""
        calls = [c for c in (self.state.get(i) for i in self._dirty) if c is not None]
        removed, self._removed = self._removed, []
        self._dirty.clear()
        return self.hub.publish_wall(calls, removed)

    def evict(self, now: float | None = None) -> list[str]:
        owners = {c.call_id: c.agent_id for c in self.state.calls()}
        gone = self.state.evict(time.time() if now is None else now)
        if gone:
            self.hub.publish_removed(gone, owners)
            self._removed.extend(gone)
        self.metrics.active_calls.set(len(self.state))
        return gone

    async def run_housekeeping(self, stop: asyncio.Event, evict_every_s: float = 5.0) -> None:
        last_evict = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.wall_interval_s)
            if time.monotonic() - last_evict >= evict_every_s:
                self.evict()
                last_evict = time.monotonic()
            self.flush_wall()


async def _seek_start(consumer: Any, settings: UiSettings) -> None:
    from aiokafka.structs import TopicPartition

    assignment: set[TopicPartition] = consumer.assignment()
    if settings.ui_consumer_start == "earliest":
        await consumer.seek_to_beginning(*assignment)
        return
    if settings.ui_consumer_start == "latest":
        await consumer.seek_to_end(*assignment)
        return
    since_ms = int((time.time() - settings.ui_lookback_s) * 1000)
    try:
        found = await consumer.offsets_for_times({tp: since_ms for tp in assignment})
    except Exception as exc:  # brokers without timestamp lookup: show everything retained
        log.warning("offset lookup by time failed (%s); reading live topics from the beginning", exc)
        await consumer.seek_to_beginning(*assignment)
        return
    for tp in assignment:
        hit = found.get(tp)
        if hit is None:
            await consumer.seek_to_end(tp)
        else:
            consumer.seek(tp, hit.offset)


async def consume_live(
    settings: UiSettings,
    bridge: LiveBridge,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    consumers: dict[str, Any] | None = None,
) -> None:
    """Feed the live topics into ``bridge`` until ``stop`` is set.

    ``consumers``: where to register the running consumer (the lag sampler reads it).
    """
    from aiokafka.structs import TopicPartition

    from streams.platform.kafka_clients import make_consumer, start_client

    kinds = topic_kinds(settings)
    consumer = make_consumer(settings, None, enable_auto_commit=False)
    await start_client(consumer, settings)
    try:
        partitions = []
        for topic in kinds:
            parts = consumer.partitions_for_topic(topic)
            if parts is None:
                await consumer._client.force_metadata_update()  # topic created after start
                parts = consumer.partitions_for_topic(topic) or set()
            partitions += [TopicPartition(topic, p) for p in sorted(parts)]
        if not partitions:
            raise RuntimeError(f"none of the live topics exist: {', '.join(kinds)}")
        consumer.assign(partitions)
        await _seek_start(consumer, settings)
        if consumers is not None:
            consumers["live"] = consumer
        if ready is not None:
            ready.set()
        log.info("live bridge reading %d partitions of %s", len(partitions), ", ".join(kinds))
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            for tp, messages in batches.items():
                kind = kinds[tp.topic]
                for message in messages:
                    ts = message.timestamp / 1000 if message.timestamp and message.timestamp > 0 else None
                    bridge.handle(kind, message.value, kafka_ts=ts)
    finally:
        if consumers is not None:
            consumers.pop("live", None)
        await consumer.stop()
