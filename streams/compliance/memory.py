"""What the compliance engine remembers about one call, and what it reads of the call.

The engine itself is stateless: its memory of a call travels with the call's state (the
Faust table value), so :class:`ComplianceMemory` converts to and from the plain JSON dict
stored there (``{"satisfied": {...}, "done": [...], "fired": {...}}``, the format the
table has always held).  :class:`CallView` is the little of the call the engine reads; the
assistant's call state provides it, and compliance never imports the assistant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class ComplianceMemory:
    # rule id, or "prereq:<rule id>" for an ordering prerequisite -> call time first said
    satisfied: dict[str, float] = field(default_factory=dict)
    # required rules settled: said in time, or alerted as missing (never alerted again)
    done: list[str] = field(default_factory=list)
    # rule id -> alerts fired (once_per_call rules fire only while this is 0)
    fired: dict[str, int] = field(default_factory=dict)

    def count_fired(self, rule_id: str, delta: int = 1) -> None:
        self.fired[rule_id] = max(0, self.fired.get(rule_id, 0) + delta)

    def to_dict(self) -> dict[str, Any]:
        return {"satisfied": dict(self.satisfied), "done": list(self.done), "fired": dict(self.fired)}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ComplianceMemory:
        d = d or {}  # an empty dict: a call stored before the engine first ran
        return cls(
            satisfied={str(k): float(v) for k, v in d.get("satisfied", {}).items()},
            done=[str(r) for r in d.get("done", [])],
            fired={str(k): int(v) for k, v in d.get("fired", {}).items()},
        )


class CallView(Protocol):
    """The call as the engine sees it (``streams.assist.callstate.CallState`` provides it)."""

    call_time: float  # latest call time seen on any channel
    channel_time: dict[str, float]  # latest call time per channel
    language: str
    compliance: ComplianceMemory

    def said_before(self, channel: str, t: float) -> str:
        """The final text said before call time ``t`` on ``channel`` ("any": every channel)."""
        ...
