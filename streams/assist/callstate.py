"""Per-call state: what one call has said, triggered and felt so far.

A plain object (no Faust) so the same code serves the live worker, where it lives in a
Faust table keyed by ``call_id`` as the dict from :meth:`CallState.to_dict`, and the
offline ``callassist streams check``.

Delivery is at-least-once: the same final segment, emotion window or call event can
arrive twice (producer retry, consumer restart before commit).  The state remembers
which ``segment_id`` / ``window_id`` it has applied and which ``alert_id`` /
suggestion keys it has emitted, so a duplicate input changes nothing and emits nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

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
class Word:
    start: float
    end: float
    text: str


@dataclass(slots=True)
class Segment:
    """One final transcript segment (the pure twin of records.TranscriptSegment)."""

    segment_id: str
    channel: str
    start: float
    end: float
    text: str
    language: str = ""
    words: list[Word] = field(default_factory=list)
    produced_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment_id": self.segment_id,
            "channel": self.channel,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "language": self.language,
        }

    def time_of(self, orig_start: int, orig_end: int) -> tuple[float, float]:
        """Call time of the original-text span [orig_start, orig_end): from word timings
        when the ASR gave them, else proportional to character position."""
        if self.words:
            pos, spans = 0, []
            for w in self.words:
                t = w.text.strip()
                i = self.text.find(t, pos) if t else -1
                if i >= 0:
                    spans.append((i, i + len(t), w.start, w.end))
                    pos = i + len(t)
            hit = [s for s in spans if s[0] < orig_end and orig_start < s[1]]
            if hit:
                return round(hit[0][2], 3), round(hit[-1][3], 3)
        n = max(len(self.text), 1)
        dur = max(self.end - self.start, 0.0)
        return round(self.start + dur * orig_start / n, 3), round(self.start + dur * orig_end / n, 3)


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
    segments: list[dict[str, Any]] = field(default_factory=list)
    seen_segments: dict[str, None] = field(default_factory=dict)  # insertion-ordered
    alerts: list[dict[str, Any]] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    suggested: dict[str, float] = field(default_factory=dict)  # suggestion key -> call time
    intents: list[dict[str, Any]] = field(default_factory=list)
    topic: dict[str, Any] = field(default_factory=dict)  # segment that set the current KB topic
    emotion: list[dict[str, Any]] = field(default_factory=list)
    seen_windows: dict[str, None] = field(default_factory=dict)
    compliance: dict[str, Any] = field(default_factory=dict)  # owned by the compliance engine
    strategy: dict[str, Any] = field(default_factory=dict)  # owned by the strategy engine
    valence: dict[str, Any] = field(default_factory=dict)  # customer word cues (streams.assist.customer_state)
    # open utterances matched from stable partial text: segment_id -> {stable, channel, alerts}
    # (streams/assist/provisional.py); an entry is settled and dropped when its final arrives
    partials: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary_sent: bool = False
    kb_version: str = ""
    rules_version: str = ""

    # -- inputs -------------------------------------------------------------
    def add_segment(self, seg: Segment) -> bool:
        """Record a final segment. False (and no change) for a duplicate."""
        if seg.segment_id in self.seen_segments:
            return False
        _remember(self.seen_segments, seg.segment_id)
        self.segments.append(seg.to_dict())
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

    def add_emotion(self, p: EmotionPoint) -> dict[str, Any] | None:
        """Record an emotion window; returns the timeline point with its trend, or None for a duplicate."""
        if p.window_id in self.seen_windows:
            return None
        _remember(self.seen_windows, p.window_id)
        self.advance(p.channel, p.end)
        arousal = round(float(p.arousal), 4)
        point: dict[str, Any] = {
            "channel": p.channel,
            "at": p.end,
            "state": p.state,
            "arousal": arousal,
            "probs": dict(p.probs),
            "hints": list(p.hints),
        }
        point["trend"] = self._trend(p.channel, arousal)
        self.emotion.append(point)
        if len(self.emotion) > MAX_EMOTION_POINTS:
            self.emotion = self.emotion[-MAX_EMOTION_POINTS:]
        return point

    def _trend(self, channel: str, arousal: float) -> str:
        hist = [e["arousal"] for e in self.emotion if e["channel"] == channel][-(2 * TREND_WINDOW - 1):]
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

    def latest_emotion(self, channel: str) -> dict[str, Any] | None:
        for e in reversed(self.emotion):
            if e["channel"] == channel:
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
        return " ".join(s["text"] for s in self.segments if s["channel"] == channel and s["start"] < t1 and s["end"] > t0)

    # -- serialisation (Faust table value) -----------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["seen_segments"] = list(self.seen_segments)
        d["seen_windows"] = list(self.seen_windows)
        d["v"] = 1
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CallState:
        if not isinstance(d, dict) or "call_id" not in d:
            raise ValueError("CallState.from_dict: expected a dict with call_id")
        # a deep copy: the argument is the Faust table's stored value, and a record still in
        # flight must not change it (a crash before the table write replays the record from it)
        d = copy.deepcopy(d)
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        kw["seen_segments"] = dict.fromkeys(d.get("seen_segments", ()))
        kw["seen_windows"] = dict.fromkeys(d.get("seen_windows", ()))
        return cls(**kw)


def _remember(seen: dict[str, None], key: str) -> None:
    """Add key to an insertion-ordered id memory, forgetting the oldest beyond MAX_SEEN_IDS."""
    seen[key] = None
    while len(seen) > MAX_SEEN_IDS:
        del seen[next(iter(seen))]
