"""The customer's emotion arc over a whole call, for the QA summary: voice and words together.

The evidence is what a stored call holds: the customer's voice readings (arousal and the voice
model's stable state, one per analysis window) and the customer's final lines, scanned with the
same valence lexicon the live customer state uses (``streams.matching.valence``,
``streams/data/valence.yaml``).  Voice prosody says how activated a caller sounds, not whether
they are unhappy, so (as on the live panel, ``streams.assist.customer_state``) a raised voice
alone never makes the customer "upset"; the voice model's agitated state with a raised voice
does, and so do words (complaint, anger, distress, threat cues).

The customer's lines are cut into three phases, start / middle / end (a third of the lines
each, at least one line for start and end); with no transcript the voice readings are cut the
same way.  A phase is *upset* when its cue weight reaches ``UPSET_WORDS``, or when at least
``VOICE_SHARE`` of its voice readings are agitated with a raised voice, or when the voice is
raised in it and a cue was said in it.  Then:

- ``upset_throughout``: upset at the start and at the end;
- ``escalating``: not upset at the start, upset at the end;
- ``de_escalated``: upset at the start or in the middle, not at the end;
- ``calm``: upset in no phase;
- ``unknown``: no customer line and no customer voice reading.

The thresholds are the live panel's; other values tried on the dev split of tests/data/dialogues
only (``bench.summary_eval``; cue weight 0.6-1.5, voice share 0.34-1) did no better.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from streams.matching.valence import Lexicon, lexicon_source
from streams.matching.versioned import ReloadingFile

# the live customer state's thresholds (streams.assist.customer_state, which the UI may not
# import: tests/unit/test_emotion_arc.py holds the two equal)
RAISED_AROUSAL = 0.6  # voice arousal at which the voice counts as raised
UPSET_WORDS = 0.6  # cue weight of one complaint / distress cue
AGITATED_STATES = ("agitated", "angry")  # the voice model's stable state ("angry": older records)
VOICE_SHARE = 0.5  # share of a phase's readings that must be agitated and raised
PAD_S = 1.0  # a voice window ending this soon before a phase's first line counts for that phase
PHASES = ("start", "middle", "end")
_WORDS = {  # the reasons, in the call's language
    "zh": {"start": "开始", "middle": "中段", "end": "结尾", "voice_agitated": "语气激动", "voice_raised": "音量升高",
           "words": "用词"},
    "en": {"start": "start", "middle": "middle", "end": "end", "voice_agitated": "voice agitated",
           "voice_raised": "voice raised", "words": "words"},
}


@dataclass
class Phase:
    words: float = 0.0
    terms: list[str] = field(default_factory=list)
    arousal: list[float] = field(default_factory=list)
    agitated: int = 0  # readings agitated with a raised voice

    @property
    def raised(self) -> bool:
        return bool(self.arousal) and sum(self.arousal) / len(self.arousal) >= RAISED_AROUSAL

    @property
    def voice_upset(self) -> bool:
        return bool(self.arousal) and self.agitated / len(self.arousal) >= VOICE_SHARE

    @property
    def upset(self) -> bool:
        return self.words >= UPSET_WORDS or self.voice_upset or (self.raised and self.words > 0)

    def reason(self, words: Mapping[str, str]) -> str:
        parts = []
        if self.voice_upset:
            parts.append(words["voice_agitated"])
        elif self.raised:
            parts.append(words["voice_raised"])
        if self.terms:
            parts.append(words["words"] + " " + ", ".join(dict.fromkeys(self.terms)))
        return " · ".join(parts)


@lru_cache(maxsize=1)
def _default_lexicon() -> ReloadingFile[Lexicon]:
    return lexicon_source()


def default_lexicon() -> Lexicon:
    """The bundled lexicon, reloaded when the file changes (a stat per call: run off the loop)."""
    source = _default_lexicon()
    source.maybe_reload()
    return source.current


def _thirds(n: int) -> list[int]:
    """The phase index (0 start, 1 middle, 2 end) of each of n ordered items."""
    if n <= 0:
        return []
    k = max(1, round(n / 3))
    return [0 if i < k else 2 if i >= max(k, n - k) else 1 for i in range(n)]


def _is_agitated(p: Mapping[str, Any]) -> bool:
    return str(p.get("state", "")) in AGITATED_STATES and float(p["arousal"]) >= RAISED_AROUSAL


def customer_arc(transcript: Sequence[Mapping[str, Any]], emotion: Sequence[Mapping[str, Any]],
                 lexicon: Lexicon | None = None, lang: str = "en") -> dict[str, Any]:
    """{"arc", "start", "peak", "end" (voice arousal, None without voice), "evidence" ("voice+words",
    "voice", "words" or "none") and "reasons" (per phase, in ``lang``: what counted)}."""
    lex = lexicon if lexicon is not None else default_lexicon()
    lines = sorted((s for s in transcript if s.get("channel") == "customer" and str(s.get("text", "")).strip()),
                   key=lambda s: float(s.get("start", 0)))
    pts = sorted((p for p in emotion if p.get("channel", "customer") == "customer"
                  and isinstance(p.get("arousal"), (int, float))), key=lambda p: float(p.get("at", p.get("start", 0))))
    if not lines and not pts:
        return {"arc": "unknown", "start": None, "peak": None, "end": None, "evidence": "none", "reasons": []}
    phases = [Phase(), Phase(), Phase()]
    if lines:
        begins: list[float | None] = [None, None, None]  # when each phase's first line starts
        for line, ph in zip(lines, _thirds(len(lines)), strict=True):
            cues = lex.scan(str(line["text"]))
            phases[ph].words += sum(c.weight for c in cues)
            phases[ph].terms += [c.term for c in cues]
            if begins[ph] is None:
                begins[ph] = float(line.get("start", 0)) - PAD_S
        for p in pts:
            at = float(p.get("at", p.get("start", 0)))
            # the phase whose lines began last before the reading (a reading between two turns
            # belongs to the earlier one; one before the first line to the start)
            ph = max((i for i, b in enumerate(begins) if b is not None and b <= at), default=0)
            phases[ph].arousal.append(float(p["arousal"]))
            phases[ph].agitated += _is_agitated(p)
    else:
        for p, ph in zip(pts, _thirds(len(pts)), strict=True):
            phases[ph].arousal.append(float(p["arousal"]))
            phases[ph].agitated += _is_agitated(p)
    if len(lines or pts) == 1:
        phases[2] = phases[0]  # one line (or one reading): it is the start and the end
    start, middle, end = (ph.upset for ph in phases)
    if start and end:
        arc = "upset_throughout"
    elif end:
        arc = "escalating"
    elif start or middle:
        arc = "de_escalated"
    else:
        arc = "calm"

    def level(ph: Phase) -> float | None:
        return round(sum(ph.arousal) / len(ph.arousal), 2) if ph.arousal else None

    vals = [float(p["arousal"]) for p in pts]
    words = _WORDS.get(lang, _WORDS["en"])
    evidence = "+".join(x for x, have in (("voice", bool(pts)), ("words", bool(lines))) if have)
    return {"arc": arc, "start": level(phases[0]), "peak": round(max(vals), 2) if vals else None,
            "end": level(phases[2]), "evidence": evidence,
            "reasons": [f"{words[name]}: {r}" for name, ph in zip(PHASES, phases, strict=True) if (r := ph.reason(words))]}
