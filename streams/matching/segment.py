"""One final transcript segment with its word timings: the text unit the matchers read.

The final-text view of ``streams.contract.records.TranscriptSegment`` (no partial-only fields:
revision, stable_len, timing stamps) that the compliance engine, the knowledge base and the
assistant share, with the wire's own ``Word``; it lives in the text layer so that neither
compliance nor the assistant owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streams.contract.records import Word  # the wire's word: one word type from ASR output to the matchers


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
