"""Evaluates a rule set against one call, segment by segment and as call time passes.

The engine is stateless; everything it must remember about a call (which required
phrases were said, which deadline alerts already fired, how often a rule fired) lives
in a :class:`~streams.compliance.memory.ComplianceMemory` that travels with the call's
state (the Faust table entry); the engine reads the call through :class:`CallView`.  Alert ids are
derived from the rule and the evidence segment (or the deadline), so reprocessing the
same input yields the same id and consumers can drop it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from streams.compliance.memory import CallView
from streams.compliance.rules import Rule, RuleSet
from streams.matching.meaning import negated_before
from streams.matching.phrases import Match, PhraseMatcher, PhraseSpec, overlaps
from streams.matching.segment import Segment
from streams.matching.text import NormText, has_cjk, normalize

EVIDENCE_MAX_CHARS = 240


@dataclass(slots=True)
class AlertDraft:
    alert_id: str
    rule_id: str
    rule_kind: str
    severity: str
    channel: str
    message: str
    evidence: str
    evidence_start: float
    evidence_end: float
    segment_id: str = ""
    matched_phrase: str = ""
    match_method: str = ""
    match_score: float = 0.0
    category: str = ""
    # "violation", or "check": a low-confidence match (a fuzzy one, or the phrase said under
    # a negation) that QA should check before anyone is held to it
    status: str = "violation"
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def asked_for(r: Rule, text: str, by_key: dict[str, list[Match]]) -> int | None:
    """Start of the first question about one of the rule's ``asks.items`` in ``text``, if any."""
    assert r.asks is not None
    for item in by_key.get(f"askitem:{r.id}", []):
        for cue in by_key.get(f"askcue:{r.id}", []):
            if cue.end <= item.start:
                gap = text[cue.end:item.start]
            elif item.end <= cue.start:
                gap = text[item.end:cue.start]
            else:
                continue
            cjk = has_cjk(text[item.start:item.end])
            near = len(gap.strip()) <= r.asks.within_chars if cjk else len(gap.split()) <= r.asks.within_words
            if near:
                return min(cue.start, item.start)
    return None


def _channel_ok(rule_channel: str, channel: str) -> bool:
    return rule_channel == "any" or rule_channel == channel


class ComplianceEngine:
    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self.version = ruleset.version
        d = ruleset.defaults
        specs: list[PhraseSpec] = []
        for r in ruleset.rules:
            opts = dict(exact=r.match.exact, pinyin=r.match.pinyin, fuzzy=r.match.fuzzy)
            specs += [PhraseSpec(f"{r.kind}:{r.id}", p, **opts) for p in r.phrases.all()]
            # exceptions hold across ASR errors too ("not guarantied"); the matcher's meaning
            # guard keeps a fuzzy "not guaranteed" from swallowing a plain "guaranteed"
            specs += [PhraseSpec(f"except:{r.id}", p) for p in r.except_.all()]
            if r.requires is not None:
                specs += [PhraseSpec(f"prereq:{r.id}", p, **opts) for p in r.requires.phrases.all()]
            if r.asks is not None:  # cue and item words are short: exact, stemmed tokens or pinyin only
                specs += [PhraseSpec(f"askcue:{r.id}", p, fuzzy=False) for p in r.asks.cues.all()]
                specs += [PhraseSpec(f"askitem:{r.id}", p, fuzzy=False) for p in r.asks.items.all()]
        self.matcher = PhraseMatcher(
            specs,
            fuzzy_threshold_en=d.fuzzy_threshold_en,
            fuzzy_threshold_zh=d.fuzzy_threshold_zh,
            fuzzy_min_chars_en=d.fuzzy_min_chars_en,
            fuzzy_min_chars_zh=d.fuzzy_min_chars_zh,
            pinyin_min_chars=d.pinyin_min_chars,
        )
        self.grace_s = d.deadline_grace_s
        self.fuzzy_violation_min = d.fuzzy_violation_min_score

    # ------------------------------------------------------------------
    def on_segment(self, state: CallView, seg: Segment, norm: NormText | None = None) -> list[AlertDraft]:
        """Alerts caused by one final segment (call after ``state.add_segment``)."""
        norm = norm or normalize(seg.text)
        mem = state.compliance
        by_key: dict[str, list[Match]] = {}
        for m in self.matcher.find(norm):
            by_key.setdefault(m.key, []).append(m)
        alerts: list[AlertDraft] = []

        # what this segment satisfies, with the position where it was said
        said_here: dict[str, int] = {}
        for r in self.ruleset.rules:
            if r.kind == "required" and _channel_ok(r.channel, seg.channel) and f"required:{r.id}" in by_key:
                said_here[r.id] = by_key[f"required:{r.id}"][0].start
            elif r.kind == "required" and r.asks is not None and _channel_ok(r.channel, seg.channel):
                pos = asked_for(r, norm.text, by_key)
                if pos is not None:
                    said_here[r.id] = pos
            if r.requires is not None and _channel_ok(r.requires.channel, seg.channel) and f"prereq:{r.id}" in by_key:
                said_here[f"prereq:{r.id}"] = by_key[f"prereq:{r.id}"][0].start

        for r in self.ruleset.rules:
            if not _channel_ok(r.channel, seg.channel):
                continue
            if r.kind == "forbidden":
                hits = [
                    m for m in by_key.get(f"forbidden:{r.id}", [])
                    if not any(overlaps(m, e) for e in by_key.get(f"except:{r.id}", []))
                ]
                if hits and not (r.once_per_call and mem.fired.get(r.id)):
                    alerts.append(self._alert(r, seg, norm, hits[0], f"{r.id}:{seg.segment_id}"))
            elif r.kind == "ordering":
                hits = by_key.get(f"ordering:{r.id}", [])
                if not hits:
                    continue
                pre = r.requires.rule if r.requires and r.requires.rule else f"prereq:{r.id}"
                if pre in mem.satisfied:
                    continue
                if pre in said_here and said_here[pre] < hits[0].start:
                    continue
                if r.once_per_call and mem.fired.get(r.id):
                    continue
                alerts.append(self._alert(r, seg, norm, hits[0], f"{r.id}:{seg.segment_id}"))

        for key, pos in said_here.items():
            if key not in mem.satisfied:
                a, _ = norm.orig_span(pos, pos + 1)
                mem.satisfied[key] = seg.time_of(a, a + 1)[0]
        for r in self.ruleset.rules:
            if r.kind == "required" and r.id in said_here and r.id not in mem.done:
                t = mem.satisfied[r.id]
                if r.deadline_s == "end" or t <= float(r.deadline_s or 0) + 1e-6:
                    mem.done.append(r.id)
        for alert in alerts:
            mem.count_fired(alert.rule_id)
        return alerts

    def on_time(self, state: CallView) -> list[AlertDraft]:
        """Deadline alerts due at the call's current time.

        Channels are transcribed independently, so the agent's greeting may arrive after
        the customer's later words: a deadline fires when the rule's own channel has
        reached it, or when any channel is ``deadline_grace_s`` past it."""
        mem = state.compliance
        out = []
        for r in self.ruleset.rules:
            if r.kind != "required" or r.id in mem.done or r.deadline_s == "end":
                continue
            deadline = float(r.deadline_s or 0)
            ch_t = state.call_time if r.channel == "any" else state.channel_time.get(r.channel, 0.0)
            if ch_t >= deadline or state.call_time >= deadline + self.grace_s:
                if state.call_time >= r.min_call_s:
                    out.append(self._missing(r, state, deadline))
                mem.done.append(r.id)
        for a in out:
            mem.count_fired(a.rule_id)
        return out

    def on_end(self, state: CallView, duration: float) -> list[AlertDraft]:
        """At call end: 'end' deadlines, and numeric deadlines the call lasted long enough to reach."""
        mem = state.compliance
        duration = max(duration, state.call_time)
        out = []
        for r in self.ruleset.rules:
            if r.kind != "required" or r.id in mem.done:
                continue
            due = duration if r.deadline_s == "end" else float(r.deadline_s or 0)
            if duration >= due and duration >= r.min_call_s:
                out.append(self._missing(r, state, due))
            mem.done.append(r.id)
        for a in out:
            mem.count_fired(a.rule_id)
        return out

    # ------------------------------------------------------------------
    def _status(self, norm: NormText, m: Match) -> tuple[str, str]:
        """("violation" | "check", why) for a phrase match."""
        if negated_before(norm.text, m.start):
            return "check", "said under a negation"
        if m.method == "fuzzy" and m.score < self.fuzzy_violation_min:
            return "check", f"fuzzy match {m.score:.2f} < {self.fuzzy_violation_min:.2f}"
        return "violation", f"{m.method} match {m.score:.2f}"

    def _alert(self, r: Rule, seg: Segment, norm: NormText, m: Match, alert_id: str) -> AlertDraft:
        a, b = norm.orig_span(m.start, m.end)
        t0, t1 = seg.time_of(a, b)
        status, why = self._status(norm, m)
        return AlertDraft(
            alert_id=alert_id,
            rule_id=r.id,
            rule_kind=r.kind,
            severity=r.severity,
            channel=seg.channel,
            message=r.message.pick(seg.language or ("zh" if has_cjk(seg.text) else "en")),
            evidence=seg.text[a:b],
            evidence_start=t0,
            evidence_end=t1,
            segment_id=seg.segment_id,
            matched_phrase=m.phrase,
            match_method=m.method,
            match_score=round(m.score, 3),
            category=r.category,
            status=status,
            why=f"{why}: \u201c{m.phrase}\u201d",
        )

    def _missing(self, r: Rule, state: CallView, deadline: float) -> AlertDraft:
        channel = r.channel if r.channel != "any" else "agent"
        # the evidence of an absence is what was said in the window that was searched
        said = state.said_before(r.channel if r.channel == "any" else channel, deadline)
        evidence = said[:EVIDENCE_MAX_CHARS] if said else ""
        return AlertDraft(
            alert_id=f"{r.id}:deadline",
            rule_id=r.id,
            rule_kind="required_missing",
            severity=r.severity,
            channel=channel,
            message=r.message.pick(state.language),
            evidence=evidence,
            evidence_start=0.0,
            evidence_end=round(deadline, 3),
            matched_phrase="",
            match_method="absent",
            category=r.category,
            why=f"no required phrase{' or identity question' if r.asks is not None else ''} by {deadline:.0f}s",
        )
