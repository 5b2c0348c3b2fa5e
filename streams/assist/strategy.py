"""Response strategy: what the agent should do *now*, from the customer's emotion and intent.

Knowledge-base answers say what is true; a strategy says how to handle the person.  An
angry customer who wants to cancel gets "apologise, acknowledge, then offer retention
options" -- and the cancellation-link answer is held back (``suppress_intents``) because
pushing a cancellation form at an angry caller loses the customer and is what QA flags.

Strategies live in the knowledge-base file (``strategies:``) so they are edited and
versioned with it.  Emotion comes from the acoustic emotion worker *and* from the words
(``agitation_cues``): acoustic windows may arrive after the transcript, and the design
notes show acoustic emotion alone is unreliable on real calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.assist.callstate import CallState
from streams.kb.strategies import StrategyDef

AGITATED_STATES = frozenset({"angry", "agitated", "upset", "frustrated"})
INTENT_MEMORY_S = 180.0  # an intent stated this long ago still shapes the strategy
TEXT_AGITATION_MEMORY_S = 60.0
TEXT_AGITATION_AROUSAL = 0.75  # arousal credited to an agitation cue in the words


@dataclass(slots=True)
class StrategyHit:
    strategy: StrategyDef
    score: float
    evidence: str
    reasons: list[str]


def customer_mood(state: CallState, text_cue_at: float | None) -> tuple[str, float, str, str]:
    """(state, arousal, trend, evidence) of the customer, fusing acoustic emotion and word cues."""
    e = state.latest_emotion("customer")
    st, ar, tr, ev = ("neutral", 0.0, "steady", "")
    if e is not None:
        st, ar, tr = e.state, float(e.arousal), e.trend
        ev = f"voice: {st} (arousal {ar:.2f}, {tr}) at {e.at:.1f}s"
    if text_cue_at is not None and state.call_time - text_cue_at <= TEXT_AGITATION_MEMORY_S:
        if ar < TEXT_AGITATION_AROUSAL or st not in AGITATED_STATES:
            st, ar = "angry", max(ar, TEXT_AGITATION_AROUSAL)
            cue = state.strategy.cue_text
            ev = (ev + "; " if ev else "") + f"words: {cue!r}"
    return st, ar, tr, ev


def recent_intents(state: CallState) -> dict[str, float]:
    out: dict[str, float] = {}
    for it in state.intents:
        if state.call_time - it["at"] <= INTENT_MEMORY_S:
            out[it["intent"]] = max(out.get(it["intent"], 0.0), it["score"])
    return out


def evaluate(strategies: list[StrategyDef], state: CallState) -> StrategyHit | None:
    """The highest-priority strategy whose conditions hold now and that has not fired yet."""
    fired = set(state.strategy.fired)
    st, ar, tr, ev = customer_mood(state, state.strategy.cue_at)
    intents = recent_intents(state)
    alert_rules = {  # violations only; a retracted alert never happened
        a["rule_id"] for a in state.alerts if a.get("status") != "check" and not a.get("retracted")
    }
    best: StrategyHit | None = None
    for s in strategies:
        if s.id in fired or fired.intersection(s.skip_if_fired):
            continue
        w = s.when
        reasons = []
        if w.emotion:
            if st not in w.emotion or ar < w.min_arousal:
                continue
            reasons.append(ev)
        if w.trend and tr not in w.trend:
            continue
        score = ar if w.emotion else 1.0
        if w.intents:
            hit = [i for i in w.intents if intents.get(i, 0.0) >= w.min_intent_score]
            if not hit:
                continue
            best_intent = max(intents[i] for i in hit)
            # both must hold: the evidence is as strong as its weakest part
            score = min(score, best_intent)
            reasons.append("intent: " + ", ".join(f"{i} ({intents[i]:.2f})" for i in hit))
        if w.alerts:
            hit = [a for a in w.alerts if a in alert_rules]
            if not hit:
                continue
            reasons.append("alert: " + ", ".join(hit))
        if not (w.emotion or w.intents or w.alerts):
            continue  # a strategy with no condition would fire on every call
        if not w.intents and not w.alerts:
            score = ar
        if best is None or s.priority > best.strategy.priority:
            best = StrategyHit(s, round(min(1.0, score), 3), "; ".join(r for r in reasons if r), reasons)
    return best


def mark_fired(state: CallState, hit: StrategyHit) -> None:
    mem = state.strategy
    mem.fired.append(hit.strategy.id)
    mem.suppressed.extend(i for i in hit.strategy.suppress_intents if i not in mem.suppressed)


def note_text_cue(state: CallState, at: float, text: str) -> None:
    state.strategy.cue_at = at
    state.strategy.cue_text = text


def suppressed_intents(state: CallState) -> set[str]:
    return set(state.strategy.suppressed)


def to_dict(hit: StrategyHit) -> dict[str, Any]:
    return {"id": hit.strategy.id, "score": hit.score, "evidence": hit.evidence}
