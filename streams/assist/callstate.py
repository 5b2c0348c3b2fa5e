"""Per-call state: what one call has said, triggered and felt so far.

A plain object (no Faust) so the same code serves the live worker, where it lives in a
Faust table keyed by ``call_id`` as the dict from :meth:`CallState.to_dict`, and the
offline ``callassist streams check``.  Each engine's memory is a typed part of it
(:class:`ComplianceMemory`, :class:`StrategyMemory`, :class:`ValenceMemory`, the open
partials), the transcript is a list of :class:`Segment` and the emotion timeline a list of
:class:`EmotionMark`; alerts, suggestions and intents are kept as the JSON-able dicts they
are sent as (their keys are the wire records' fields).

:meth:`CallState.from_dict` never shares anything with the dict it reads: that dict is the
table's stored value, and the worker writes the table only after the outputs of a record
are acknowledged, so a crash in between replays the record from the unchanged value.

Delivery is at-least-once: the same final segment, emotion window or call event can
arrive twice (producer retry, consumer restart before commit).  The state remembers
which ``segment_id`` / ``window_id`` it has applied and which ``alert_id`` /
suggestion keys it has emitted, so a duplicate input changes nothing and emits nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from streams.assist.memory import OpenPartial, StrategyMemory, ValenceMemory
from streams.compliance.memory import ComplianceMemory
from streams.matching.segment import Segment

MAX_SEGMENTS = 5000  # ~several hours of speech; beyond it the oldest text is dropped
MAX_EMOTION_POINTS = 4000
# Duplicates come from producer retries and consumer restarts, so they arrive within a few
# hundred records of the original: remembering the latest ids is enough, and keeps the table
# value (rewritten on every record) from growing through a long call.
MAX_SEEN_IDS = 2000
MAX_INTENTS = 200  # the strategy looks only at the last INTENT_MEMORY_S seconds
TREND_WINDOW = 3  # windows on each side of the trend comparison
TREND_DELTA = 0.08  # arousal change that counts as rising/falling


@dataclass(slots=True)
class EmotionPoint:
    window_id: str
    channel: str
    start: float
    end: float
    state: str
    arousal: float
    probs: dict[str, float] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)


@dataclass(slots=True)
class EmotionMark:
    """One point of a call's emotion timeline: an applied window, with the trend it showed."""

    channel: str
    at: float  # call time: the window's end
    state: str
    arousal: float
    trend: str = "steady"  # rising | falling | steady
    probs: dict[str, float] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "at": self.at, "state": self.state, "arousal": self.arousal,
                "probs": dict(self.probs), "hints": list(self.hints), "trend": self.trend}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EmotionMark:
        return cls(str(d["channel"]), float(d["at"]), str(d["state"]), float(d["arousal"]),
                   str(d.get("trend", "steady")), dict(d.get("probs") or {}), list(d.get("hints") or []))


def _heard(seg: Segment) -> Segment:
    """A final segment as the call state keeps it: without word timings (the text is enough)."""
    return Segment(seg.segment_id, seg.channel, seg.start, seg.end, seg.text, seg.language)


def _segment_from_dict(d: dict[str, Any]) -> Segment:
    return Segment(str(d["segment_id"]), str(d["channel"]), float(d["start"]), float(d["end"]), str(d["text"]),
                   str(d.get("language", "")))


@dataclass
class CallState:
    call_id: str
    agent_id: str = ""
    customer_id: str = ""
    queue: str = ""
    language: str = ""
    started_at: float = 0.0  # epoch seconds
    ended_at: float = 0.0
    ended: bool = False
    duration: float = 0.0
    call_time: float = 0.0  # latest call time seen on any channel
    channel_time: dict[str, float] = field(default_factory=dict)
    segments: list[Segment] = field(default_factory=list)  # the final transcript, in arrival order
    seen_segments: dict[str, None] = field(default_factory=dict)  # insertion-ordered
    alerts: list[dict[str, Any]] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    suggested: dict[str, float] = field(default_factory=dict)  # suggestion key -> call time
    intents: list[dict[str, Any]] = field(default_factory=list)
    topic: dict[str, Any] = field(default_factory=dict)  # segment that set the current KB topic
    emotion: list[EmotionMark] = field(default_factory=list)  # the emotion timeline, all channels
    seen_windows: dict[str, None] = field(default_factory=dict)
    compliance: ComplianceMemory = field(default_factory=ComplianceMemory)
    strategy: StrategyMemory = field(default_factory=StrategyMemory)
    valence: ValenceMemory = field(default_factory=ValenceMemory)  # customer word cues
    # open utterances matched from stable partial text, by segment_id (streams/assist/provisional.py)
    partials: dict[str, OpenPartial] = field(default_factory=dict)
    summary_sent: bool = False
    kb_version: str = ""
    rules_version: str = ""

    # -- inputs -------------------------------------------------------------
    def add_segment(self, seg: Segment) -> bool:
        """Record a final segment. False (and no change) for a duplicate."""
        if seg.segment_id in self.seen_segments:
            return False
        _remember(self.seen_segments, seg.segment_id)
        self.segments.append(_heard(seg))
        if len(self.segments) > MAX_SEGMENTS:
            self.segments = self.segments[-MAX_SEGMENTS:]
        self.advance(seg.channel, seg.end)
        if not self.language and seg.language:
            self.language = seg.language
        return True

    def add_intent(self, intent: dict[str, Any]) -> None:
        self.intents.append(intent)
        if len(self.intents) > MAX_INTENTS:
            self.intents = self.intents[-MAX_INTENTS:]

    def advance(self, channel: str, t: float) -> None:
        self.call_time = max(self.call_time, t)
        self.channel_time[channel] = max(self.channel_time.get(channel, 0.0), t)

    def add_emotion(self, p: EmotionPoint) -> EmotionMark | None:
        """Record an emotion window; returns the timeline point with its trend, or None for a duplicate."""
        if p.window_id in self.seen_windows:
            return None
        _remember(self.seen_windows, p.window_id)
        self.advance(p.channel, p.end)
        arousal = round(float(p.arousal), 4)
        point = EmotionMark(p.channel, p.end, p.state, arousal, self._trend(p.channel, arousal),
                            dict(p.probs), list(p.hints))
        self.emotion.append(point)
        if len(self.emotion) > MAX_EMOTION_POINTS:
            self.emotion = self.emotion[-MAX_EMOTION_POINTS:]
        return point

    def _trend(self, channel: str, arousal: float) -> str:
        hist = [e.arousal for e in self.emotion if e.channel == channel][-(2 * TREND_WINDOW - 1):]
        hist.append(arousal)
        if len(hist) < 2:
            return "steady"
        half = len(hist) // 2
        old = sum(hist[:half]) / half
        new = sum(hist[half:]) / (len(hist) - half)
        if new - old > TREND_DELTA:
            return "rising"
        if old - new > TREND_DELTA:
            return "falling"
        return "steady"

    def latest_emotion(self, channel: str) -> EmotionMark | None:
        for e in reversed(self.emotion):
            if e.channel == channel:
                return e
        return None

    # -- outputs (deduplicated) ----------------------------------------------
    def add_alert(self, alert: dict[str, Any]) -> bool:
        if any(a["alert_id"] == alert["alert_id"] for a in self.alerts):
            return False
        self.alerts.append(alert)
        return True

    def add_suggestion(self, key: str, suggestion: dict[str, Any]) -> bool:
        if key in self.suggested:
            return False
        self.suggested[key] = self.call_time
        self.suggestions.append(suggestion)
        return True

    def transcript_text(self, channel: str, t0: float, t1: float) -> str:
        return " ".join(s.text for s in self.segments if s.channel == channel and s.start < t1 and s.end > t0)

    def said_before(self, channel: str, t: float) -> str:
        """The final text said before call time ``t`` on ``channel`` ("any": every channel)."""
        if channel == "any":
            return " ".join(s.text for s in self.segments if s.start < t)
        return self.transcript_text(channel, 0.0, t)

    # -- serialisation (Faust table value) -----------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict that shares nothing with this state (the table keeps it)."""
        d = {k: _copy_plain(getattr(self, k)) for k in _PLAIN_FIELDS}
        d["segments"] = [s.to_dict() for s in self.segments]
        d["emotion"] = [e.to_dict() for e in self.emotion]
        d["seen_segments"] = list(self.seen_segments)
        d["seen_windows"] = list(self.seen_windows)
        d["compliance"] = self.compliance.to_dict()
        d["strategy"] = self.strategy.to_dict()
        d["valence"] = self.valence.to_dict()
        d["partials"] = {k: p.to_dict() for k, p in self.partials.items()}
        d["v"] = 1
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CallState:
        """The state a table value describes; reads every format the table has held (v1)."""
        if not isinstance(d, dict) or "call_id" not in d:
            raise ValueError("CallState.from_dict: expected a dict with call_id")
        # a deep copy: the argument is the Faust table's stored value, and a record still in
        # flight must not change it (a crash before the table write replays the record from it)
        kw: dict[str, Any] = {k: _copy_plain(d[k]) for k in _PLAIN_FIELDS if k in d}
        return cls(
            **kw,
            segments=[_segment_from_dict(s) for s in d.get("segments", ())],
            emotion=[EmotionMark.from_dict(e) for e in d.get("emotion", ())],
            seen_segments=dict.fromkeys(d.get("seen_segments", ())),
            seen_windows=dict.fromkeys(d.get("seen_windows", ())),
            compliance=ComplianceMemory.from_dict(d.get("compliance")),
            strategy=StrategyMemory.from_dict(d.get("strategy")),
            valence=ValenceMemory.from_dict(d.get("valence")),
            partials={str(k): OpenPartial.from_dict(p) for k, p in (d.get("partials") or {}).items()},
        )


# fields stored as they are (JSON-able values); the others convert through their own types
_TYPED_FIELDS = frozenset({
    "segments", "emotion", "seen_segments", "seen_windows", "compliance", "strategy", "valence", "partials",
})
_PLAIN_FIELDS = tuple(k for k in CallState.__dataclass_fields__ if k not in _TYPED_FIELDS)


def _copy_plain(value: Any) -> Any:
    """A copy of a plain field's value that shares no mutable part with it.

    The values are JSON records at most three levels deep: a list of records (alerts,
    suggestions, intents) whose fields are scalars or a flat list (``matched``, ``links``),
    or a flat dict (``channel_time``, ``suggested``, ``topic``).  A hand-made copy of
    that shape is ~10x faster than ``copy.deepcopy`` (it runs twice per record on a state
    that reaches megabytes in a long call); deeper values fall back to deepcopy."""
    if isinstance(value, list):
        return [_copy_row(v) if isinstance(v, dict) else _copy_leaf(v) for v in value]
    if isinstance(value, dict):
        return _copy_row(value)
    return value


def _copy_row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _copy_leaf(v) for k, v in row.items()}


def _copy_leaf(v: Any) -> Any:
    if isinstance(v, list):
        return [x if not isinstance(x, (list, dict)) else copy.deepcopy(x) for x in v]
    if isinstance(v, dict):
        return {k: x if not isinstance(x, (list, dict)) else copy.deepcopy(x) for k, x in v.items()}
    return v


def _remember(seen: dict[str, None], key: str) -> None:
    """Add key to an insertion-ordered id memory, forgetting the oldest beyond MAX_SEEN_IDS."""
    seen[key] = None
    while len(seen) > MAX_SEEN_IDS:
        del seen[next(iter(seen))]
