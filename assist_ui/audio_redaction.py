"""Where redacted PII was spoken: time spans of a call's audio to hide from QA playback.

The transcript's word timings say when each word was spoken; :func:`assist_ui.redact.find_pii`
says which characters of a text are PII. A segment's words are joined into one text (so the
character offsets map back to words), PII is searched in it, and the words it covers give the
span, widened by a little padding (Whisper's word edges are approximate). A segment whose
text holds PII but whose words do not show it (no words, or a number the words split
differently) is hidden whole: when in doubt, hide more. Works the same for Mandarin and
English: only character offsets and timings are used.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from assist_ui.redact import find_pii

PAD_S = 0.25


def pii_audio_spans(segments: Iterable[Mapping[str, Any]], pad_s: float = PAD_S) -> list[dict[str, Any]]:
    """``[{"channel", "start", "end", "kind"}]`` for every PII span spoken in ``segments``."""
    out: list[dict[str, Any]] = []
    for seg in segments:
        text = str(seg.get("text") or "")
        channel = str(seg.get("channel") or "")
        words = [w for w in seg.get("words") or [] if isinstance(w, Mapping)]
        joined, offsets = "", []
        for w in words:
            offsets.append((len(joined), len(joined) + len(str(w.get("text", "")))))
            joined += str(w.get("text", ""))
        found = False
        for span in find_pii(joined) if words else []:
            covered = [w for w, (a, b) in zip(words, offsets, strict=True) if a < span.end and span.start < b]
            if covered:
                found = True
                out.append(_span(channel, min(float(w["start"]) for w in covered),
                                 max(float(w["end"]) for w in covered), span.kind, pad_s))
        if not found and find_pii(text):
            kinds = {s.kind for s in find_pii(text)}
            out.append(_span(channel, float(seg.get("start", 0)), float(seg.get("end", 0)), sorted(kinds)[0], pad_s))
    return out


def _span(channel: str, start: float, end: float, kind: str, pad_s: float) -> dict[str, Any]:
    return {"channel": channel, "start": round(max(0.0, start - pad_s), 3), "end": round(end + pad_s, 3), "kind": kind}
