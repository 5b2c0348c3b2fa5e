"""The typed parts of a call's state that the assistant's engines own.

Each converts to and from the plain JSON dict the Faust table stores, in the format the
table has always held, so a worker upgraded mid-call reads the state an older one wrote.
(The compliance engine's part is :class:`streams.compliance.memory.ComplianceMemory`.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StrategyMemory:
    """Owned by streams.assist.strategy: what fired, what it holds back, the latest word cue."""

    fired: list[str] = field(default_factory=list)  # strategy ids, in firing order
    suppressed: list[str] = field(default_factory=list)  # KB intents held back by a fired strategy
    cue_at: float | None = None  # call time of the latest agitation cue in the words
    cue_text: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"fired": list(self.fired), "suppressed": list(self.suppressed)}
        if self.cue_at is not None:  # absent, as before, until a cue is heard
            d.update(cue_at=self.cue_at, cue_text=self.cue_text)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> StrategyMemory:
        d = d or {}
        cue_at = d.get("cue_at")
        return cls(
            fired=[str(s) for s in d.get("fired", [])],
            suppressed=[str(s) for s in d.get("suppressed", [])],
            cue_at=None if cue_at is None else float(cue_at),
            cue_text=str(d.get("cue_text", "")),
        )


@dataclass(frozen=True, slots=True)
class WordCue:
    """A valence cue the customer said (streams.matching.valence), at call time ``at``."""

    at: float
    term: str
    category: str
    weight: float


@dataclass
class ValenceMemory:
    """Owned by streams.assist.customer_state: the customer's recent word cues (bounded)."""

    cues: list[WordCue] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        if not self.cues:
            return {}
        return {"cues": [{"at": c.at, "term": c.term, "category": c.category, "weight": c.weight} for c in self.cues]}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ValenceMemory:
        return cls([WordCue(float(c["at"]), str(c["term"]), str(c["category"]), float(c["weight"]))
                    for c in (d or {}).get("cues", [])])


@dataclass
class OpenPartial:
    """An utterance matched from its stable partial text (streams.assist.provisional),
    settled and dropped when its final arrives."""

    channel: str
    stable: str = ""  # the stable prefix already matched
    alerts: list[str] = field(default_factory=list)  # provisional alert ids it raised

    def to_dict(self) -> dict[str, Any]:
        return {"stable": self.stable, "channel": self.channel, "alerts": list(self.alerts)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OpenPartial:
        return cls(channel=str(d.get("channel", "")), stable=str(d.get("stable", "")),
                   alerts=[str(a) for a in d.get("alerts", [])])
