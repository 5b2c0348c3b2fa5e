"""The assist pipeline for one call, without Kafka: the code the Faust agents and
``callassist streams check`` share.

Input records (segments, emotion windows, call events) go in together with the call's
:class:`~streams.assist.callstate.CallState`; output dicts come out whose keys are the fields
of the wire records (``streams.contract.records.Alert`` / ``Suggestion`` / ``EmotionState`` /
``CallSummary``), minus ``produced_at``, which the sender stamps.  A duplicate input
returns no output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from streams.assist import provisional, risk, strategy
from streams.assist.callstate import CallState, EmotionMark, EmotionPoint
from streams.assist.customer_state import customer_words, fuse
from streams.compliance.engine import AlertDraft, ComplianceEngine
from streams.compliance.rules import load_rules
from streams.compliance.source import DEFAULT_RULES
from streams.kb.index import KBIndex
from streams.kb.model import load_kb
from streams.kb.source import DEFAULT_KB
from streams.matching import text as textproc
from streams.matching.segment import Segment
from streams.matching.text import has_cjk, normalize
from streams.matching.valence import Lexicon, load_lexicon

EVIDENCE_MAX_CHARS = 240
CONTEXT_MAX_AGE_S = 120.0
TOPIC_MIN_SCORE = 0.3  # weaker than a suggestion, strong enough to carry a follow-up's topic

T = TypeVar("T")


class Source(Protocol[T]):  # type: ignore[misc]
    @property
    def current(self) -> T: ...


@dataclass
class Fixed(Generic[T]):
    """A source that never changes (tests, one-shot offline checks)."""

    value: T

    @property
    def current(self) -> T:
        return self.value

    def maybe_reload(self) -> bool:
        return False


@dataclass
class Outputs:
    alerts: list[dict[str, Any]] = field(default_factory=list)
    # provisional alerts confirmed or retracted by their final: re-sent under the same alert_id
    alert_updates: list[dict[str, Any]] = field(default_factory=list)
    suggestions: list[dict[str, Any]] = field(default_factory=list)
    emotion: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    # intents recognised for this input (for evaluation and logs; not a wire record)
    intents: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.alerts or self.alert_updates or self.suggestions or self.emotion or self.summary)


def _lang(text: str, declared: str, fallback: str) -> str:
    if declared:
        return declared
    if text:
        return "zh" if has_cjk(text) else "en"
    return fallback or "en"


def _emotion_record(call_id: str, e: EmotionMark) -> dict[str, Any]:
    """An emotion timeline point as the fields of an ``EmotionState`` record."""
    return {"call_id": call_id, "channel": e.channel, "state": e.state, "arousal": e.arousal, "trend": e.trend,
            "probs": dict(e.probs), "at": e.at, "hints": list(e.hints)}


def _words_end(seg: Segment, keywords: list[str]) -> float:
    """Call time at which the last matched keyword ends in the segment (else the segment's end)."""
    low, ends = seg.text.lower(), []
    for kw in keywords:
        i = low.find(kw.lower())
        if i >= 0:
            ends.append(seg.time_of(i, i + len(kw))[1])
    return max(ends) if ends else seg.end


class Assistant:
    """Knowledge base + compliance + strategy + risk for calls, one input at a time."""

    def __init__(
        self, kb: Source[KBIndex], rules: Source[ComplianceEngine], valence: Source[Lexicon] | None = None
    ) -> None:
        self.kb = kb
        self.rules = rules
        self.valence: Source[Lexicon] = valence if valence is not None else Fixed(load_lexicon())

    @classmethod
    def from_files(cls, kb_path: Path | str = DEFAULT_KB, rules_path: Path | str = DEFAULT_RULES) -> Assistant:
        textproc.load()
        return cls(Fixed(KBIndex(load_kb(kb_path))), Fixed(ComplianceEngine(load_rules(rules_path))))

    # ------------------------------------------------------------------
    def on_event(self, state: CallState, kind: str, *, ts: float = 0.0, duration: float = 0.0,
                 meta: dict[str, Any] | None = None, source_produced_at: float = 0.0) -> Outputs:
        meta = meta or {}
        for k in ("agent_id", "customer_id", "queue", "language"):
            if meta.get(k) and not getattr(state, k):
                setattr(state, k, meta[k])
        out = Outputs()
        if kind == "started":
            if not state.started_at:
                state.started_at = ts
            return out
        if kind != "ended":
            return out
        first_end = not state.ended
        if first_end:
            state.ended = True
            state.ended_at = ts
            state.duration = max(duration, state.call_time)
            engine = self.rules.current
            out.alerts = self._emit_alerts(state, engine, engine.on_end(state, state.duration), source_produced_at)
        # CallSummary is idempotent by call_id: a duplicate "ended" re-sends it (covers a crash
        # between the table update and the send) but never re-fires alerts.
        out.summary = self.summary(state)
        state.summary_sent = True
        return out

    def on_partial(self, state: CallState, seg: Segment, stable_len: int) -> Outputs:
        """A partial segment: its stable prefix is matched like a final (see streams/assist/provisional.py).

        Alerts it raises are ``provisional`` until the final settles them; required phrases
        and ordering prerequisites count as said once stable.  KB answers are pushed from it
        too; the transcript, intents and topic stay final-only (QA keeps what was decoded whole)."""
        out = Outputs()
        if seg.segment_id in state.seen_segments:
            return out  # its final is already applied: a partial delivered late
        open_ = state.partials.get(seg.segment_id)
        prev = open_.stable if open_ is not None else ""
        part = provisional.stable_part(seg, stable_len, prev)
        if part is None or not part.grew:
            return out
        entry = provisional.remember_partial(state.partials, seg.segment_id, seg.channel)
        stable = part.segment
        entry.stable = stable.text
        state.advance(stable.channel, stable.end)  # the stable words are audio already heard
        engine, index = self.rules.current, self.kb.current
        norm = normalize(stable.text)
        drafts = engine.on_segment(state, stable, norm)
        out.alerts = self._emit_alerts(state, engine, drafts, seg.produced_at, provisional=True)
        entry.alerts += [a["alert_id"] for a in out.alerts]
        out.alerts += self._emit_alerts(state, engine, engine.on_time(state), seg.produced_at)
        if stable.channel in index.kb.settings.channels and norm.text:
            hits = index.search(stable.text, k=3, norm=norm, context=self._context(state, stable, appended=False))
            top = hits[0] if hits and hits[0].score >= index.kb.settings.min_score else None
            if top is not None and not top.from_context and top.entry.intent not in strategy.suppressed_intents(state):
                lang = _lang(stable.text, stable.language, state.language)
                sug = self._kb_suggestion(state, index, top, stable, lang)
                sug["provisional"] = True
                if state.add_suggestion(f"kb:{top.entry.id}", sug):
                    out.suggestions.append(sug)
        return out

    def on_segment(self, state: CallState, seg: Segment) -> Outputs:
        out = Outputs()
        if not state.add_segment(seg):
            return out
        if seg.channel == "customer":
            out.emotion = customer_words(state, self.valence.current, seg)
        engine, index = self.rules.current, self.kb.current
        norm = normalize(seg.text)
        drafts = engine.on_segment(state, seg, norm) + engine.on_time(state)
        pending = state.partials.pop(seg.segment_id, None)
        if pending and pending.alerts:
            finals = {d.alert_id: d.to_dict() for d in drafts if d.alert_id in pending.alerts}
            out.alert_updates, retracted = provisional.settle(state.alerts, pending.alerts, engine, norm, finals)
            for rule_id in retracted:  # a retracted alert did not fire (once_per_call may fire later)
                state.compliance.count_fired(rule_id, -1)
        out.alerts = self._emit_alerts(state, engine, drafts, seg.produced_at)
        lang = _lang(seg.text, seg.language, state.language)
        top = None
        if seg.channel in index.kb.settings.channels and norm.text:
            cue = index.agitation_cue(norm)
            if cue is not None:
                a, b = norm.orig_span(*cue)
                strategy.note_text_cue(state, seg.end, seg.text[a:b])
            hits = index.search(seg.text, k=3, norm=norm, context=self._context(state, seg))
            out.intents = [
                {"segment_id": seg.segment_id, "intent": h.entry.intent, "entry_id": h.entry.id, "score": h.score}
                for h in hits
            ]
            if hits and not hits[0].from_context and hits[0].score >= TOPIC_MIN_SCORE:
                state.topic = {"segment_id": seg.segment_id, "text": seg.text, "at": seg.end}
            if hits and hits[0].score >= index.kb.settings.min_score:
                top = hits[0]
                state.add_intent(
                    {"segment_id": seg.segment_id, "intent": top.entry.intent, "entry_id": top.entry.id,
                     "score": top.score, "at": seg.end, "channel": seg.channel}
                )
        out.suggestions += self._strategy(state, index, seg.segment_id, lang, seg.produced_at)
        # a topic carried over from the previous utterance shapes the intent, but pushes no
        # new answer: the agent already got that suggestion for the utterance that set it
        if top is not None and not top.from_context and top.entry.intent not in strategy.suppressed_intents(state):
            key = f"kb:{top.entry.id}"
            rep = index.kb.settings.repeat_after_s
            if rep and key in state.suggested and state.call_time - state.suggested[key] >= rep:
                del state.suggested[key]
            sug = self._kb_suggestion(state, index, top, seg, lang)
            if state.add_suggestion(key, sug):
                out.suggestions.append(sug)
        state.kb_version, state.rules_version = index.version, engine.version
        if state.ended:
            # a final that arrives after the "ended" event (ASR still finishing the last turn, or
            # the events topic read ahead of the transcripts topic) updates the QA record
            out.summary = self.summary(state)
        return out

    def on_emotion(self, state: CallState, p: EmotionPoint, source_produced_at: float = 0.0) -> Outputs:
        out = Outputs()
        point = state.add_emotion(p)
        if point is None:
            return out
        out.emotion = _emotion_record(state.call_id, point)
        if p.channel == "customer":
            out.emotion.update(fuse(point, state.valence, point.at))
        engine = self.rules.current
        out.alerts = self._emit_alerts(state, engine, engine.on_time(state), source_produced_at)
        if p.channel == "customer":
            out.suggestions = self._strategy(state, self.kb.current, "", state.language or "en", source_produced_at)
        return out

    @staticmethod
    def _kb_suggestion(state: CallState, index: KBIndex, top: Any, seg: Segment, lang: str) -> dict[str, Any]:
        key = f"kb:{top.entry.id}"
        matched = [*top.keywords] + ([top.question] if top.question_score > 0 else [])
        why = (f"confidence {top.score:.2f} that this is {top.entry.intent}"
               + (f"; keywords: {', '.join(top.keywords)}" if top.keywords else "")
               + (f"; closest question: \u201c{top.question}\u201d" if top.question_score > 0 else ""))
        return {
            "call_id": state.call_id,
            "suggestion_id": f"{state.call_id}:{key}:{seg.segment_id}",
            "kind": "kb",
            "intent": top.entry.intent,
            "entry_id": top.entry.id,
            "title": top.entry.title.pick(lang),
            "text": top.entry.answer.pick(lang),
            "score": top.score,
            "evidence": seg.text[:EVIDENCE_MAX_CHARS],
            "matched": matched,
            "why": why,
            "segment_id": seg.segment_id,
            "links": list(top.entry.links),
            "kb_version": index.version,
            "language": lang,
            "source_produced_at": seg.produced_at,
            "evidence_end": _words_end(seg, top.keywords),
        }

    @staticmethod
    def _context(state: CallState, seg: Segment, appended: bool = True) -> str:
        """The utterance that set the call's current topic (its latest recognised intent),
        if recent; else the speaker's previous utterance.  Follow-up questions ("and when
        do I get the new card?") name no topic themselves."""
        if state.topic and state.call_time - state.topic["at"] <= CONTEXT_MAX_AGE_S:
            return str(state.topic["text"])
        for s in reversed(state.segments[:-1] if appended else state.segments):
            if s.channel == seg.channel:
                return s.text if seg.start - s.end <= CONTEXT_MAX_AGE_S else ""
        return ""

    # ------------------------------------------------------------------
    def _strategy(self, state: CallState, index: KBIndex, segment_id: str, lang: str,
                  source_produced_at: float) -> list[dict[str, Any]]:
        hit = strategy.evaluate(list(index.kb.strategies), state)
        if hit is None:
            return []
        strategy.mark_fired(state, hit)
        s = hit.strategy
        key = f"strategy:{s.id}"
        sug = {
            "call_id": state.call_id,
            "suggestion_id": f"{state.call_id}:{key}",
            "kind": "strategy",
            "intent": s.when.intents[0] if s.when.intents else "",
            "entry_id": s.id,
            "title": s.title.pick(lang),
            "text": s.text.pick(lang),
            "score": hit.score,
            "evidence": hit.evidence[:EVIDENCE_MAX_CHARS],
            "matched": [r for r in hit.reasons if r],
            "why": f"evidence {hit.score:.2f}: " + "; ".join(r for r in hit.reasons if r),
            "segment_id": segment_id,
            "links": list(s.links),
            "kb_version": index.version,
            "language": lang,
            "source_produced_at": source_produced_at,
        }
        return [sug] if state.add_suggestion(key, sug) else []

    def _emit_alerts(self, state: CallState, engine: ComplianceEngine, drafts: list[AlertDraft],
                     source_produced_at: float, provisional: bool = False) -> list[dict[str, Any]]:
        out = []
        fired = state.compliance.fired
        for d in drafts:
            a = d.to_dict()
            a.update(call_id=state.call_id, rules_version=engine.version, source_produced_at=source_produced_at)
            if provisional:
                a["provisional"] = True
            if state.add_alert(a):
                out.append(a)
            elif fired.get(d.rule_id):
                # the same alert again (a growing partial, or the final of a provisional one):
                # the engine counted it as a new firing, but it is not one
                fired[d.rule_id] -= 1
        return out

    def summary(self, state: CallState) -> dict[str, Any]:
        r = risk.score_call(state)
        return {
            "call_id": state.call_id,
            "agent_id": state.agent_id,
            "customer_id": state.customer_id,
            "queue": state.queue,
            "language": state.language,
            "started_at": state.started_at,
            "ended_at": state.ended_at,
            "duration": state.duration or state.call_time,
            "risk_score": r.score,
            "risk_level": r.level,
            "reasons": r.reasons,
            "risk_reasons": [f.to_dict() for f in r.findings],
            "transcript": [dict(s.to_dict(), call_id=state.call_id, is_final=True) for s in state.segments],
            "alerts": list(state.alerts),
            "suggestions": list(state.suggestions),
            "emotion": [_emotion_record(state.call_id, e) for e in state.emotion],
            "kb_version": state.kb_version,
            "rules_version": state.rules_version,
        }
