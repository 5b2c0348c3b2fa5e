"""Per-call live view model built from topic records (pure: no I/O, no clock, no Kafka).

The bridge feeds every decoded record (as its plain JSON dict) to :meth:`LiveState.apply`,
which folds it into the call's view and returns a :class:`Change` (the message to fan out)
or None when the record changed nothing (a duplicate under at-least-once delivery, or a
partial that arrived after its final).  Rules:

- transcript segments are keyed by ``segment_id``: a later partial (same or higher
  ``revision``) replaces a partial, a final replaces a partial, nothing replaces a final;
- alerts and suggestions are keyed by ``alert_id`` / ``suggestion_id``: first one wins, except that
  a provisional alert (raised from partial text) is replaced once by its confirmation or retraction;
- emotion keeps the newest state per channel (by call time ``at``) and a bounded curve;
- call events set the owner (``agent_id``) and status; an "ended" call stays visible for
  ``ended_retention_s`` and is then evicted.

Every applied change bumps the call's ``version``; snapshots carry it, so a client that
gets a snapshot can ignore queued updates it already has.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from assist_ui.call_context import CALL_STATE_EVENTS, clean_context
from streams.contract.vocab import severity_rank

KINDS = ("event", "segment", "alert", "suggestion", "emotion")

_SEGMENT_KEYS = ("segment_id", "channel", "is_final", "start", "end", "text", "language", "revision", "produced_at",
                 "stable_len")
_ALERT_KEYS = ("alert_id", "rule_id", "rule_kind", "severity", "channel", "message", "evidence", "evidence_start",
               "evidence_end", "segment_id", "produced_at", "status", "why", "provisional", "retracted")
_SUGGESTION_KEYS = ("suggestion_id", "kind", "intent", "entry_id", "title", "text", "score", "evidence", "segment_id",
                    "links", "language", "produced_at", "why", "provisional")
_EMOTION_KEYS = ("channel", "state", "arousal", "trend", "probs", "at", "hints", "produced_at", "customer_state", "reasons")
_MAX_CURVE = 2000
_MAX_ITEMS = 500  # alerts / suggestions kept per live call


class LiveRecordError(ValueError):
    """A record cannot be applied (e.g. empty call_id); the caller logs, counts and skips it."""


def _pick(rec: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: rec[k] for k in keys if k in rec}


def _require(rec: dict[str, Any], *keys: str) -> None:
    for key in keys:
        value = rec.get(key)
        if not isinstance(value, str) or not value:
            raise LiveRecordError(f"record without {key}")


@dataclass
class LiveCall:
    call_id: str
    agent_id: str = ""
    customer_id: str = ""
    queue: str = ""
    language: str = ""
    status: str = "live"  # "live" | "ended"
    call_state: str = "active"  # "active" | "hold" | "muted" (CallEvent kinds hold/resume/mute/unmute)
    started_at: float = 0.0  # epoch seconds
    ended_at: float = 0.0
    duration: float = 0.0
    version: int = 0
    first_seen: float = 0.0
    last_activity: float = 0.0
    last_speech_at: float = 0.0  # epoch of the last transcript update or voiced window (supervisor: silences)
    talk_over_at: float = 0.0  # epoch of the last agent window whose voice activity overlapped the customer's
    segments: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    alerts: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    suggestions: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    emotion: dict[str, dict[str, Any]] = field(default_factory=dict)
    curve: list[dict[str, Any]] = field(default_factory=list)
    # what people did on the call (acks, whispers, raised hand): kept by assist_ui.live_actions
    actions: dict[str, Any] = field(default_factory=dict)
    context: dict[str, str] = field(default_factory=dict)  # CallEvent.context (assist_ui.call_context)
    _curve_keys: set[tuple[str, float]] = field(default_factory=set, repr=False)

    def meta(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "agent_id": self.agent_id,
            "customer_id": self.customer_id,
            "queue": self.queue,
            "language": self.language,
            "status": self.status,
            "call_state": self.call_state,
            "started_at": self.started_at or self.first_seen,
            "ended_at": self.ended_at,
            "duration": self.duration,
        }

    def max_severity(self) -> str:
        best = ""
        for a in self.alerts.values():
            if a.get("retracted"):
                continue  # the final took it back
            if severity_rank(a.get("severity", "")) > severity_rank(best):
                best = a["severity"]
        return best

    def snapshot(self) -> dict[str, Any]:
        segments = sorted(self.segments.values(), key=lambda s: (s.get("start", 0.0), s.get("channel", "")))
        return {
            **self.meta(),
            "v": self.version,
            "segments": segments,
            "alerts": list(self.alerts.values()),
            "suggestions": list(self.suggestions.values()),
            "emotion": dict(self.emotion),
            "curve": list(self.curve),
            "actions": dict(self.actions),
            "context": dict(self.context),
        }

    def wall_row(self) -> dict[str, Any]:
        customer = self.emotion.get("customer") or next(iter(self.emotion.values()), None) or {}
        last_alert = next(reversed(self.alerts.values()), None)
        return {
            **self.meta(),
            "v": self.version,
            "emotion": _pick(customer, ("state", "trend", "arousal")),
            "alerts_open": sum(not a.get("retracted") for a in self.alerts.values()),
            "max_severity": self.max_severity(),
            "last_alert": _pick(last_alert, ("message", "severity", "rule_id")) if last_alert else None,
            "last_speech_at": self.last_speech_at,
            "talk_over_at": self.talk_over_at,
            "acked": len(self.actions.get("acks", {})),
            "hand": bool(self.actions.get("hand")),
            "help": bool(self.actions.get("help")),
        }


@dataclass(frozen=True)
class Change:
    """What one applied record changed, ready to fan out."""

    call_id: str
    agent_id: str  # the call's owner after the change
    kind: str  # "call" | "segment" | "alert" | "suggestion" | "emotion"
    message: dict[str, Any]  # the update sent to clients
    owner_changed: bool = False  # the owner changed: clients need a snapshot (or a removal)
    prev_agent_id: str = ""


class LiveState:
    def __init__(
        self,
        max_calls: int = 20000,
        max_segments: int = 4000,
        ended_retention_s: float = 600.0,
        idle_timeout_s: float = 3 * 3600.0,
    ) -> None:
        self.max_calls = max_calls
        self.max_segments = max_segments
        self.ended_retention_s = ended_retention_s
        self.idle_timeout_s = idle_timeout_s
        # least recently active first (moved to the end on every record): the victim of the
        # count bound and the idle scan are at the front, so both are O(1) per call
        self._calls: OrderedDict[str, LiveCall] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()  # ended calls, in the order they ended
        # one handler per record kind, bound once: a getattr with a fresh f-string name per record
        # also fills the interpreter's attribute cache with throw-away name strings
        self._appliers = {kind: getattr(self, f"_apply_{kind}") for kind in KINDS}

    def __len__(self) -> int:
        return len(self._calls)

    def get(self, call_id: str) -> LiveCall | None:
        return self._calls.get(call_id)

    def calls(self) -> list[LiveCall]:
        return list(self._calls.values())

    def calls_of(self, agent_id: str) -> list[LiveCall]:
        return [c for c in self._calls.values() if agent_id and c.agent_id == agent_id]

    # -- applying records ------------------------------------------------------
    def apply(self, kind: str, rec: dict[str, Any], now: float) -> Change | None:
        if kind not in KINDS:
            raise LiveRecordError(f"unknown record kind {kind!r}")
        _require(rec, "call_id")
        call = self._calls.get(rec["call_id"])
        if call is None:
            if kind == "event" and rec.get("kind") == "ended" and not rec.get("agent_id"):
                return None  # the end of a call we never saw: nothing to show
            call = LiveCall(call_id=rec["call_id"], first_seen=now, last_activity=now)
            self._calls[call.call_id] = call
            self._enforce_bound(now)
        else:
            self._calls.move_to_end(call.call_id)
        call.last_activity = now
        change = self._appliers[kind](call, rec, now)
        if call.status == "ended" and call.call_id not in self._ended:
            self._ended[call.call_id] = None
        return change

    def _changed(self, call: LiveCall, kind: str, item: dict[str, Any], **extra: Any) -> Change:
        call.version += 1
        message = {"type": "update", "call_id": call.call_id, "v": call.version, "kind": kind, "item": item}
        return Change(call.call_id, call.agent_id, kind, message, **extra)

    def _apply_event(self, call: LiveCall, rec: dict[str, Any], now: float) -> Change | None:
        what = rec.get("kind")
        if what not in ("started", "ended") and what not in CALL_STATE_EVENTS:
            raise LiveRecordError(f"call event kind {what!r} is neither 'started' nor 'ended' nor a call state")
        before = (call.meta(), call.agent_id)
        prev_agent = call.agent_id
        for key in ("agent_id", "customer_id", "queue", "language"):
            if rec.get(key):
                setattr(call, key, rec[key])
        if rec.get("context"):
            call.context = clean_context(rec["context"])
        ts = float(rec.get("ts") or 0.0)
        if what == "started":
            call.started_at = ts or call.started_at or now
        elif what in CALL_STATE_EVENTS:
            if call.call_state == "hold" and CALL_STATE_EVENTS[str(what)] != "hold":
                call.last_speech_at = max(call.last_speech_at, now)  # time on hold is not dead air
            call.call_state = CALL_STATE_EVENTS[str(what)]
        else:
            call.status = "ended"
            call.ended_at = ts or now
            call.duration = float(rec.get("duration") or 0.0) or max(0.0, call.ended_at - call.meta()["started_at"])
        if (call.meta(), call.agent_id) == before:
            return None  # a duplicate event
        owner_changed = call.agent_id != prev_agent
        return self._changed(call, "call", call.meta(), owner_changed=owner_changed, prev_agent_id=prev_agent)

    def _apply_segment(self, call: LiveCall, rec: dict[str, Any], now: float) -> Change | None:
        _require(rec, "segment_id")
        seg_id = rec["segment_id"]
        old = call.segments.get(seg_id)
        if old is not None:
            if old.get("is_final"):
                return None  # duplicate final, or a late partial
            if not rec.get("is_final") and int(rec.get("revision", 0)) < int(old.get("revision", 0)):
                return None  # an older partial delivered late
            if not rec.get("is_final") and rec.get("text") == old.get("text") and rec.get("revision") == old.get(
                "revision"
            ):
                return None
        item = _pick(rec, _SEGMENT_KEYS)
        call.segments[seg_id] = item
        call.last_speech_at = now  # a partial is speech too: someone talking is not a silence
        if not call.language and item.get("language"):
            call.language = item["language"]
        self._trim_segments(call)
        return self._changed(call, "segment", item)

    def _trim_segments(self, call: LiveCall) -> None:
        # drop the oldest finals first; the live panel shows the recent conversation
        excess = len(call.segments) - self.max_segments
        if excess <= 0:
            return
        for seg_id in [k for k, v in call.segments.items() if v.get("is_final")][:excess]:
            del call.segments[seg_id]

    def _apply_alert(self, call: LiveCall, rec: dict[str, Any], now: float) -> Change | None:
        _require(rec, "alert_id")
        old = call.alerts.get(rec["alert_id"])
        if old is not None and not (old.get("provisional") and not rec.get("provisional")):
            return None  # a duplicate, or a late copy of the provisional alert after it was settled
        item = _pick(rec, _ALERT_KEYS)
        call.alerts[rec["alert_id"]] = item
        if len(call.alerts) > _MAX_ITEMS:
            call.alerts.popitem(last=False)
        return self._changed(call, "alert", item)

    def _apply_suggestion(self, call: LiveCall, rec: dict[str, Any], now: float) -> Change | None:
        _require(rec, "suggestion_id")
        if rec["suggestion_id"] in call.suggestions:
            return None
        item = _pick(rec, _SUGGESTION_KEYS)
        call.suggestions[rec["suggestion_id"]] = item
        if len(call.suggestions) > _MAX_ITEMS:
            call.suggestions.popitem(last=False)
        return self._changed(call, "suggestion", item)

    def _apply_emotion(self, call: LiveCall, rec: dict[str, Any], now: float) -> Change | None:
        _require(rec, "channel")
        item = _pick(rec, _EMOTION_KEYS)
        key = (item["channel"], float(item.get("at", 0.0)))
        if key in call._curve_keys:
            return None
        call._curve_keys.add(key)
        point = {"channel": key[0], "at": key[1], "arousal": item.get("arousal", 0.0), "state": item.get("state")}
        call.curve.append(point)
        if len(call.curve) > _MAX_CURVE:
            dropped = call.curve.pop(0)
            call._curve_keys.discard((dropped["channel"], dropped["at"]))
        # the emotion worker reports only windows its voice-activity gate found speech in, so a
        # reading is speech even when the ASR has produced no text yet; its "talking_over" hint
        # (pipeline/emotion/turns.py) is measured from both channels' activity masks
        call.last_speech_at = max(call.last_speech_at, now)
        if key[0] == "agent" and "talking_over" in (item.get("hints") or ()):
            call.talk_over_at = now
        current = call.emotion.get(key[0])
        if current is None or key[1] >= float(current.get("at", 0.0)):
            call.emotion[key[0]] = item
        return self._changed(call, "emotion", item)

    # -- bounds ------------------------------------------------------------------
    def evict(self, now: float) -> list[str]:
        """Drop ended calls past retention and calls idle past the idle timeout.

        Retention counts from the end event's own time, so calls that ended long ago and
        were re-read after a restart (lookback) leave at once instead of lingering.
        """
        gone: list[str] = []
        for call_id in list(self._ended):  # ended calls only, not every call
            c = self._calls.get(call_id)
            if c is None or now - (c.ended_at or c.last_activity) > self.ended_retention_s:
                gone.append(call_id)
        for c in self._calls.values():  # least recently active first: stop at the first active one
            if now - c.last_activity <= self.idle_timeout_s:
                break
            gone.append(c.call_id)
        gone = list(dict.fromkeys(gone))  # an ended call may also be idle
        for call_id in gone:
            self._drop(call_id)
        return gone

    def _drop(self, call_id: str) -> None:
        self._calls.pop(call_id, None)
        self._ended.pop(call_id, None)

    def _enforce_bound(self, now: float) -> None:
        while len(self._calls) > self.max_calls:
            # ended calls go first (oldest end first), then the least recently active: O(1)
            victim = next(iter(self._ended), None) or next(iter(self._calls))
            self._drop(victim)
