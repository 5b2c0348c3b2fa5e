"""What the ingest session (pipeline.ingest.protocol) returns for the server to act on (sans-I/O).

Besides these, the records to produce (:class:`~streams.contract.records.CallEvent`,
:class:`~streams.contract.records.AudioFrame`).  Plain values, so the session's behaviour is
asserted by comparing lists in the unit tests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent


@dataclass(frozen=True, slots=True)
class Reply:
    """A JSON message for the client. ``error`` is the error kind ('' for normal replies)."""

    message: dict[str, Any]
    error: str = ""
    dropped_audio: bool = False  # the rejected message carried audio (counted as a dropped frame)

    def to_text(self) -> str:
        return json.dumps(self.message, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class AudioIn:
    """One accepted incoming audio message (for the frames-in / bytes-in metrics)."""

    source: str
    nbytes: int


@dataclass(frozen=True, slots=True)
class GapFill:
    """Silence inserted for a Twilio timestamp gap; ``capped``: less than the gap asked for."""

    seconds: float
    capped: bool


Output = Reply | Close | AudioIn | AudioFrame | CallEvent | GapFill
