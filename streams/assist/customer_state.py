"""The customer state the panel shows: voice arousal fused with valence from the words.

Inputs are what the call state already holds: the latest customer emotion window (voice
arousal, the voice model's stable state) and the valence cues found in the customer's
recent final transcript (streams.matching.valence).  The output names its reasons, so the agent
sees *why* ("voice raised · words: 投诉, 12378"), and QA can check it.

Rules (kept simple and explicit, since no labelled real calls exist to fit weights on):
- words decay: a cue counts fully for ``WORD_MEMORY_S`` seconds after it was said, then
  is forgotten (a complaint an hour ago does not keep the call red);
- ``agitated``: the voice model's agitated state with a raised voice or any word cue, a
  raised voice with word evidence ≥ 0.6, or word evidence ≥ 1.5 (a complaint plus a threat);
- ``upset``: word evidence ≥ 0.6 (one complaint, distress or threat cue);
- ``raised``: voice raised or voice-agitated without words; ``neutral`` otherwise.
  Happy/sad from voice alone are never shown (they did not hold up across corpora:
  models/emotion/MODEL_CARD.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streams.assist.memory import ValenceMemory, WordCue

if TYPE_CHECKING:
    from streams.assist.callstate import CallState, EmotionMark
    from streams.matching.segment import Segment
    from streams.matching.valence import Lexicon

WORD_MEMORY_S = 60.0
RAISED_AROUSAL = 0.6  # smoothed voice arousal at which the voice counts as raised
UPSET_WORDS = 0.6
AGITATED_WORDS = 1.5
MAX_CUES = 50


def note_cues(valence: ValenceMemory, at: float, cues: list[tuple[str, str, float]]) -> None:
    """Remember (term, category, weight) cues said at call time ``at`` (bounded memory)."""
    valence.cues += [WordCue(round(at, 3), t, c, w) for t, c, w in cues]
    del valence.cues[:-MAX_CUES]


def fuse(voice: EmotionMark | None, valence: ValenceMemory, now: float) -> dict[str, Any]:
    """{"customer_state", "valence", "reasons"} for call time ``now``."""
    recent = [c for c in valence.cues if now - WORD_MEMORY_S <= c.at <= now + 1.0]
    words = sum(c.weight for c in recent)
    arousal = float(voice.arousal) if voice else 0.0
    voice_agitated = voice is not None and voice.state in ("agitated", "angry")
    raised = arousal >= RAISED_AROUSAL
    reasons: list[str] = []
    if voice_agitated:
        reasons.append("voice agitated")
    elif raised:
        reasons.append("voice raised")
    if recent:
        terms = list(dict.fromkeys(c.term for c in recent))
        reasons.append("words: " + ", ".join(terms[:5]))
    if (voice_agitated and (raised or words > 0)) or (raised and words >= UPSET_WORDS) or words >= AGITATED_WORDS:
        state = "agitated"
    elif words >= UPSET_WORDS:
        state = "upset"
    elif voice_agitated or raised:
        state = "raised"
    else:
        state = "neutral"
    return {"customer_state": state, "valence": round(-min(words, 2.0) / 2.0, 3), "reasons": reasons}


def customer_words(state: CallState, lexicon: Lexicon, seg: Segment) -> dict[str, Any] | None:
    """Note the valence cues of a new customer segment; the panel's emotion update, or None
    when the segment has no cue (the state then changes with the next voice window)."""
    cues = lexicon.scan(seg.text)
    if not cues:
        return None
    note_cues(state.valence, seg.end, [(c.term, c.category, c.weight) for c in cues])
    voice = state.latest_emotion("customer")
    return {
        "call_id": state.call_id,
        "channel": "customer",
        "state": voice.state if voice else "neutral",
        "arousal": voice.arousal if voice else 0.0,
        "trend": voice.trend if voice else "steady",
        "probs": dict(voice.probs) if voice else {},
        "at": seg.end,
        "hints": list(voice.hints) if voice else [],
        **fuse(voice, state.valence, seg.end),
    }
