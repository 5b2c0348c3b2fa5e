"""What ``callassist bench`` watches: the output topics (always) and the agent's websocket (when the UI runs).

:class:`KafkaTap` reads ``calls.transcripts``, ``assist.alerts`` and ``assist.suggestions`` with
no consumer group, so it takes nothing from the workers.  It gives the reference times the
latencies are measured from (a transcript's ``audio_end_at``, an alert's
``source_produced_at``), and, without a UI, its own receive times stand in for "on screen".

:class:`UiTap` is one signed-in agent socket (``/ws``, docs/ui.md): every bench call belongs to
that agent, so every update the panel would render arrives here, and its receive time is
"on the agent's screen" minus the browser's rendering.  The UI's messages do not carry the
capture times, so its updates are joined with the Kafka records by segment id and revision,
alert id and suggestion id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from bench.stats import (
    Dedup,
    Observation,
    PhraseHit,
    ShownUpdate,
    capture_offsets,
    phrase_observations,
    word_observations,
)
from streams.contract.codec import RecordDecodeError, decode
from streams.contract.records import Alert, Suggestion, TranscriptSegment
from streams.platform.kafka_clients import make_consumer, start_client
from streams.platform.settings import CommonSettings

log = logging.getLogger(__name__)


@dataclass
class Seen:
    """Records of the bench's calls, with the time the bench received each."""

    transcripts: list[tuple[float, TranscriptSegment]] = field(default_factory=list)
    alerts: list[tuple[float, Alert]] = field(default_factory=list)
    suggestions: list[tuple[float, Suggestion]] = field(default_factory=list)
    last_at: float = 0.0  # receive time of the newest record (settling: "nothing new for a while")


def _shown(seg: TranscriptSegment, at: float) -> ShownUpdate:
    return ShownUpdate(seg.call_id, seg.segment_id, bool(seg.is_final), float(seg.end), float(seg.audio_end_at),
                       tuple(float(w.end) for w in seg.words) if seg.is_final else (), at)


class KafkaTap:
    def __init__(self, settings: CommonSettings, call_ids: set[str] | None = None) -> None:
        self.settings = settings
        self.call_ids = call_ids  # None: every call; else only these (the current load level)
        self.seen = Seen()
        self.malformed = 0
        self._types: dict[str, type[Any]] = {
            settings.topic_transcripts: TranscriptSegment,
            settings.topic_alerts: Alert,
            settings.topic_suggestions: Suggestion,
        }
        self._consumer: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start reading at the end of the topics; returns once partitions are assigned and positioned."""
        self._consumer = make_consumer(self.settings, None, *self._types, auto_offset_reset="latest")
        await start_client(self._consumer, self.settings)
        for tp in self._consumer.assignment():  # fix the start position now, not at the first fetch
            await self._consumer.position(tp)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="bench-kafka-tap")

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=200)
            now = time.time()
            for tp, msgs in batch.items():
                cls = self._types[tp.topic]
                for m in msgs:
                    try:
                        rec = decode(cls, m.value)
                    except RecordDecodeError:
                        self.malformed += 1
                        continue
                    if self.call_ids is not None and rec.call_id not in self.call_ids:
                        continue
                    self.seen.last_at = now
                    if cls is TranscriptSegment:
                        self.seen.transcripts.append((now, rec))
                    elif cls is Alert:
                        self.seen.alerts.append((now, rec))
                    else:
                        self.seen.suggestions.append((now, rec))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def observations(self) -> Dedup:
        """Latencies as seen by this reader (the Kafka stand-in for the screen)."""
        d = Dedup()
        for at, seg in self.seen.transcripts:
            if seg.audio_end_at <= 0:
                continue  # no capture time on the record: nothing to measure from
            kind = "final" if seg.is_final else "partial"
            key = seg.segment_id if seg.is_final else f"{seg.segment_id}#{seg.revision}"
            d.add(Observation(kind, seg.call_id, key, at - seg.audio_end_at))
        for o in word_observations(_shown(seg, at) for at, seg in self.seen.transcripts):
            d.add(o)
        for at, a in self.seen.alerts:
            if a.source_produced_at > 0:
                d.add(Observation("alert", a.call_id, a.alert_id, at - a.source_produced_at))
        for at, s in self.seen.suggestions:
            if s.source_produced_at > 0:
                d.add(Observation("suggestion", s.call_id, s.suggestion_id, at - s.source_produced_at))
        hits = [PhraseHit("alert", a.call_id, a.alert_id, a.evidence_end, at) for at, a in self.seen.alerts]
        hits += [PhraseHit("suggestion", s.call_id, s.suggestion_id, s.evidence_end, at)
                 for at, s in self.seen.suggestions]
        for o in phrase_observations(hits, self.capture_offsets()):
            d.add(o)
        return d

    def capture_offsets(self) -> dict[str, float]:
        return capture_offsets(_shown(seg, at) for at, seg in self.seen.transcripts)

    def calls_with_final(self) -> set[str]:
        return {seg.call_id for _, seg in self.seen.transcripts if seg.is_final}


class UiTap:
    """One agent socket on the UI; records every ``update``/``snapshot`` with its receive time."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.token = token
        self.updates: list[tuple[float, dict[str, Any]]] = []
        self.snapshots: list[tuple[float, dict[str, Any]]] = []
        self.last_at = 0.0
        self._ws: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, wait_s: float = 10.0) -> dict[str, Any]:
        from websockets.asyncio.client import connect

        self._ws = await asyncio.wait_for(connect(self.url, max_size=None, compression=None), wait_s)
        await self._ws.send(json.dumps({"op": "auth", "token": self.token}))
        hello = json.loads(await asyncio.wait_for(self._ws.recv(), wait_s))
        if hello.get("type") != "hello":
            raise RuntimeError(f"UI socket: expected hello, got {hello}")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="bench-ui-tap")
        return dict(hello)

    async def _run(self) -> None:
        async for raw in self._ws:
            now = time.time()
            msg = json.loads(raw)
            if msg.get("type") == "update":
                self.updates.append((now, msg))
                self.last_at = now
            elif msg.get("type") == "snapshot":
                self.snapshots.append((now, msg))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()

    def observations(self, kafka: KafkaTap, call_ids: set[str]) -> tuple[Dedup, int]:
        """Screen latencies joined with the Kafka records; also returns updates that could not be joined."""
        records: dict[tuple[str, int, bool], TranscriptSegment] = {}
        for _, seg in kafka.seen.transcripts:
            records.setdefault((seg.segment_id, seg.revision, seg.is_final), seg)
        shown: list[ShownUpdate] = []
        alert_src: dict[str, float] = {}
        phrase_end: dict[str, float] = {}  # alert / suggestion id -> call time its matched words end
        for _, a in kafka.seen.alerts:
            alert_src.setdefault(a.alert_id, a.source_produced_at)
            phrase_end.setdefault(a.alert_id, a.evidence_end)
        sugg_src: dict[str, float] = {}
        for _, sg in kafka.seen.suggestions:
            sugg_src.setdefault(sg.suggestion_id, sg.source_produced_at)
            phrase_end.setdefault(sg.suggestion_id, sg.evidence_end)
        hits: list[PhraseHit] = []
        d, unjoined = Dedup(), 0
        for at, msg in self.updates:
            call_id, kind, item = msg.get("call_id", ""), msg.get("kind"), msg.get("item") or {}
            if call_id not in call_ids:
                continue
            if kind == "segment":
                final = bool(item.get("is_final"))
                rec = records.get((item.get("segment_id", ""), int(item.get("revision", 0)), final))
                ref = rec.audio_end_at if rec is not None else None
                key = item.get("segment_id", "") if final else f"{item.get('segment_id')}#{item.get('revision')}"
                obs_kind = "final" if final else "partial"
                if rec is not None:
                    shown.append(_shown(rec, at))
            elif kind == "alert":
                ref, key, obs_kind = alert_src.get(item.get("alert_id", "")), item.get("alert_id", ""), "alert"
            elif kind == "suggestion":
                ref = sugg_src.get(item.get("suggestion_id", ""))
                key, obs_kind = item.get("suggestion_id", ""), "suggestion"
            else:
                continue
            if ref is None:
                unjoined += 1  # no Kafka record with that id seen
                continue
            if obs_kind in ("alert", "suggestion"):
                hits.append(PhraseHit(obs_kind, call_id, key, phrase_end.get(key, 0.0), at))
            if ref <= 0:
                continue  # the record carries no reference time (e.g. a transcript without capture time)
            d.add(Observation(obs_kind, call_id, key, at - ref))
        for o in word_observations(shown):
            d.add(o)
        for o in phrase_observations(hits, kafka.capture_offsets()):
            d.add(o)
        return d, unjoined
