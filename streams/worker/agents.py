"""Faust agents of ``callassist streams``.

One agent consumes ``calls.transcripts``, ``calls.emotion`` and ``calls.events`` (all keyed
by call_id, so co-partitioned) and keeps each call's :class:`~streams.assist.callstate.CallState`
(as its ``to_dict``) in a Faust table keyed by call_id.  One agent rather than three because
all three inputs update the same per-call state: separate agents would interleave their
read-modify-write cycles on one call and lose updates.

Per record: decode raw bytes with :func:`streams.contract.codec.decode` (a malformed record is
logged, counted and skipped), apply it with :func:`streams.assist.step.apply_record` in an
executor thread (retrieval and matching stay off the event loop; the table's value is never
changed in place), produce the outputs and wait until the broker has them, and only then write
the table.  A crash in between therefore replays the input: outputs may repeat with the same
ids (consumers drop them), but none is lost, and a replayed input whose state was already
saved is recognised as a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from streams.assist.assistant import Assistant, Outputs
from streams.assist.step import apply_record
from streams.compliance.source import rules_source
from streams.contract.codec import RecordDecodeError, build, decode
from streams.contract.records import (
    Alert,
    CallEvent,
    CallSummary,
    EmotionReading,
    EmotionState,
    RiskReason,
    Suggestion,
    TranscriptSegment,
)
from streams.kb.source import kb_source
from streams.matching import text as textproc
from streams.matching.valence import lexicon_source
from streams.platform.lag import ConsumerLag
from streams.platform.stream_settings import StreamsSettings
from streams.worker.faust_app import make_app
from streams.worker.metrics import StreamsMetrics, active_call_count

log = logging.getLogger(__name__)


def _record(cls: type, d: dict[str, Any], **extra: Any) -> Any:
    return build(cls, {**d, **extra})


def summary_record(d: dict[str, Any]) -> CallSummary:
    """CallSummary with its nested records built field by field (unknown keys dropped)."""
    return _record(
        CallSummary, d,
        risk_reasons=[_record(RiskReason, r) for r in d.get("risk_reasons", [])],
        transcript=[_record(TranscriptSegment, s) for s in d["transcript"]],
        alerts=[_record(Alert, a) for a in d["alerts"]],
        suggestions=[_record(Suggestion, s) for s in d["suggestions"]],
        emotion=[_record(EmotionState, e) for e in d["emotion"]],
    )


class StreamsWorker:
    """The Faust app, its table and agent, wired to an :class:`Assistant`."""

    def __init__(self, settings: StreamsSettings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = StreamsMetrics(self.registry)
        self.lag = ConsumerLag(
            self.registry, (settings.topic_transcripts, settings.topic_emotion, settings.topic_events),
            interval_s=settings.streams_metrics_interval_s,
        )
        self.assistant: Assistant | None = None
        self.ready = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streams-assist")
        self._reloader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streams-reload")
        # partition -> call_id -> (last record seen, ended?): eviction runs on the partition's
        # own events, so the table tombstone lands in the right changelog partition
        self._seen: dict[int, dict[str, tuple[float, bool]]] = defaultdict(dict)
        self.app = make_app(settings, settings.streams_app_id, self.registry)
        self._build()

    # -- start-up ---------------------------------------------------------------
    def load(self) -> None:
        """Load jieba, the KB and the rules (explicitly, at worker start; fails loudly on a bad file)."""
        textproc.load()
        kb, rules = kb_source(self.settings.streams_kb_path), rules_source(self.settings.streams_rules_path)
        self._valence = lexicon_source()
        self.assistant = Assistant(kb, rules, self._valence)
        self._kb, self._rules = kb, rules
        self._publish_versions()
        log.info("streams: KB %s, rules %s", kb.current.version, rules.current.version)

    def _publish_versions(self) -> None:
        self.metrics.files.info({"kb_version": self._kb.current.version, "rules_version": self._rules.current.version})

    def is_ready(self) -> bool:
        return self.ready

    def _build(self) -> None:
        s, app = self.settings, self.app
        raw: dict[str, Any] = {"key_serializer": "raw", "value_serializer": "raw"}
        self._kinds = {s.topic_transcripts: "transcripts", s.topic_emotion: "emotion", s.topic_events: "events"}
        inputs = app.topic(s.topic_transcripts, s.topic_emotion, s.topic_events, **raw)
        self.out = {
            "alert": app.topic(s.topic_alerts, **raw),
            "suggestion": app.topic(s.topic_suggestions, **raw),
            "emotion": app.topic(s.topic_assist_emotion, **raw),
            "summary": app.topic(s.topic_qa_calls, **raw),
        }
        self.table = app.Table("callstate", default=None, partitions=s.partitions)

        @app.agent(inputs, name="assist")
        async def assist(stream: faust.StreamT) -> None:
            async for event in stream.events():
                await self.handle(event.message.topic, event.value, event.message.partition)

        @app.timer(interval=s.streams_reload_interval_s)
        async def reload_files() -> None:
            await asyncio.get_running_loop().run_in_executor(self._reloader, self._reload)

        @app.timer(interval=s.streams_metrics_interval_s)
        async def sample_gauges() -> None:
            # on the worker's loop: Faust's consumer and table are not thread-safe
            try:
                self.lag.publish(self.lag.sample_faust(app))
                self.metrics.calls.set(len(self.table))
                self.metrics.active_calls.set(active_call_count(self.table.values()))
            except Exception:  # a metric must never stop the worker
                log.exception("sampling the gauges failed")

        async def on_assigned(sender: Any, **kwargs: Any) -> None:
            self.ready = True

        app.on_rebalance_complete.connect(on_assigned)  # type: ignore[arg-type]

        async def on_shutdown(sender: Any, **kwargs: Any) -> None:
            self.ready = False  # the consumer has stopped: /readyz says so while Faust drains the rest

        app.on_before_shutdown.connect(on_shutdown)  # type: ignore[arg-type]

    def _reload(self) -> None:
        for name, src in (("kb", self._kb), ("rules", self._rules), ("valence", self._valence)):
            failed = src.failed_reloads
            if src.maybe_reload():
                self.metrics.reloads.labels(name, "ok").inc()
                self._publish_versions()
            elif src.failed_reloads > failed:
                self.metrics.reloads.labels(name, "error").inc()

    # -- per record -------------------------------------------------------------
    async def handle(self, topic: str, value: bytes | None, partition: int) -> None:
        kind = self._kinds.get(topic, "unknown")
        cls = {"transcripts": TranscriptSegment, "emotion": EmotionReading, "events": CallEvent}.get(kind)
        try:
            if cls is None:
                raise RecordDecodeError(f"record from unexpected topic {topic!r}")
            rec: Any = decode(cls, value)
            if not rec.call_id:
                raise RecordDecodeError(f"{cls.__name__}: empty call_id")
        except RecordDecodeError as exc:
            self.metrics.malformed.labels(topic).inc()
            self.metrics.errors.inc("malformed_record")
            self.metrics.records.labels(kind, "malformed").inc()
            log.warning("skipping malformed record on %s[%d]: %s", topic, partition, exc)
            return
        if kind == "transcripts" and not rec.is_final and not self.settings.streams_match_partials:
            self.metrics.records.labels(kind, "partial").inc()  # switched off: finals only
            return
        call_id = rec.call_id
        t0 = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            outs, state = await loop.run_in_executor(self._executor, self._apply, kind, rec, self.table.get(call_id))
        except Exception:
            # a record the assist logic cannot handle would fail the same way on every redelivery:
            # log, count and skip it rather than stop the partition behind it
            self.metrics.errors.inc("internal")
            self.metrics.records.labels(kind, "error").inc()
            log.exception("skipping %s record of call %s on %s[%d]: assist failed", kind, call_id, topic, partition)
            return
        self.metrics.process.labels(kind).observe(time.perf_counter() - t0)
        if kind == "transcripts" and not rec.is_final:
            self.metrics.records.labels(kind, "partial").inc()  # matched on its stable prefix
        elif state is None:
            self.metrics.records.labels(kind, "duplicate").inc()
        else:
            self.metrics.records.labels(kind, "ok").inc()
        await self._send(call_id, outs)
        if state is not None:
            self.table[call_id] = state  # after the outputs are acknowledged (see module doc)
        ended = self._seen[partition].get(call_id, (0.0, False))[1] or (kind == "events" and rec.kind == "ended")
        seen = self._seen[partition]
        seen.pop(call_id, None)  # re-inserted at the end: the dict stays ordered by last activity
        seen[call_id] = (time.time(), ended)
        self._evict(partition)

    def _apply(self, kind: str, rec: Any, stored: dict | None) -> tuple[Outputs, dict | None]:
        """Runs in the executor thread. Returns the outputs and the new state (None: unchanged);
        ``stored``, the table's value, is left as it is (see streams.assist.step)."""
        assert self.assistant is not None
        return apply_record(self.assistant, kind, rec, stored)

    async def _send(self, call_id: str, outs: Outputs) -> None:
        key = call_id.encode()
        now = time.time()
        pending = []
        for a in outs.alerts:
            pending.append(await self.out["alert"].send(key=key, value=_record(Alert, a, produced_at=now).to_bytes()))
            self.metrics.alerts.labels(a["severity"], a["rule_kind"]).inc()
            if a.get("source_produced_at"):
                self.metrics.to_alert.observe(max(0.0, now - a["source_produced_at"]))
        for a in outs.alert_updates:  # confirmed / retracted provisional alerts: same id, not a new alert
            pending.append(await self.out["alert"].send(key=key, value=_record(Alert, a, produced_at=now).to_bytes()))
        for s in outs.suggestions:
            pending.append(
                await self.out["suggestion"].send(key=key, value=_record(Suggestion, s, produced_at=now).to_bytes())
            )
            self.metrics.suggestions.labels(s["kind"]).inc()
            if s.get("source_produced_at"):
                self.metrics.to_suggestion.observe(max(0.0, now - s["source_produced_at"]))
        if outs.emotion is not None:
            rec = _record(EmotionState, outs.emotion, produced_at=now)
            pending.append(await self.out["emotion"].send(key=key, value=rec.to_bytes()))
        if outs.summary is not None:
            pending.append(await self.out["summary"].send(key=key, value=summary_record(outs.summary).to_bytes()))
            self.metrics.summaries.inc()
        if pending:
            try:
                await asyncio.gather(*pending)  # delivered (acks=all) before the table write and the commit
            except Exception:
                self.metrics.errors.inc("broker")  # re-raised: the input is not committed and comes back
                raise

    def _evict(self, partition: int) -> None:
        """Drop calls that ended ``streams_state_retention_s`` ago, or went silent without an
        "ended" event for ``streams_idle_timeout_s``."""
        seen = self._seen.get(partition)
        if not seen:
            return
        now = time.time()
        s = self.settings
        # ordered by last activity: only the front can have expired, so stop at the first entry
        # younger than the shorter timeout (O(evicted) per record, not O(calls held))
        horizon = min(s.streams_state_retention_s, s.streams_idle_timeout_s)
        for cid, (at, ended) in list(_front(seen, now, horizon)):
            if now - at > (s.streams_state_retention_s if ended else s.streams_idle_timeout_s):
                del seen[cid]
                self.table.pop(cid, None)
        while len(seen) > s.streams_max_calls:  # count bound: the least recently active call goes
            cid = next(iter(seen))
            del seen[cid]
            self.table.pop(cid, None)


def _front(seen: dict[str, tuple[float, bool]], now: float, horizon: float) -> list[tuple[str, tuple[float, bool]]]:
    out = []
    for cid, entry in seen.items():
        if now - entry[0] <= horizon:
            break
        out.append((cid, entry))
    return out

