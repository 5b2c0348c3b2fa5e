"""One input record applied to one call's stored state: what the Faust agent runs per record.

Pure (no Faust, no Kafka), so the crash-replay contract is unit-tested on the code the worker
runs: ``stored`` is the table's value for the call and is never changed; the new value comes
back separately, and the worker writes it only after the outputs are acknowledged.  A crash
in between replays the record against the same ``stored`` and gets the same outputs.
"""

from __future__ import annotations

from typing import Any

from streams.assist.assistant import Assistant, Outputs
from streams.assist.callstate import CallState, EmotionPoint
from streams.matching.segment import Segment

META_FIELDS = ("agent_id", "customer_id", "queue", "language")


def apply_record(assistant: Assistant, kind: str, rec: Any,
                 stored: dict[str, Any] | None) -> tuple[Outputs, dict[str, Any] | None]:
    """Apply a decoded ``calls.transcripts`` / ``calls.emotion`` / ``calls.events`` record
    (``kind``: "transcripts" | "emotion" | "events").  Returns the outputs and the call's new
    table value, or None when the state did not change (nothing to write)."""
    state = CallState.from_dict(stored) if stored else CallState(rec.call_id)
    if kind == "transcripts":
        seg = Segment(rec.segment_id, rec.channel, rec.start, rec.end, rec.text, rec.language,
                      list(rec.words), rec.produced_at)
        if rec.is_final:
            changed = seg.segment_id not in state.seen_segments  # a new segment is always recorded
            outs = assistant.on_segment(state, seg)
        else:  # only a longer stable prefix changes anything
            before = _stable_text(state, seg.segment_id)
            outs = assistant.on_partial(state, seg, rec.stable_len)
            changed = _stable_text(state, seg.segment_id) != before
    elif kind == "emotion":
        changed = rec.window_id not in state.seen_windows  # likewise a new window
        point = EmotionPoint(rec.window_id, rec.channel, rec.start, rec.end, rec.state, rec.arousal,
                             dict(rec.probs), list(rec.hints))
        outs = assistant.on_emotion(state, point, source_produced_at=rec.produced_at)
    elif kind == "events":
        was = (state.started_at, state.ended)
        outs = assistant.on_event(state, rec.kind, ts=rec.ts, duration=rec.duration,
                                  meta={k: getattr(rec, k) for k in META_FIELDS})
        changed = (state.started_at, state.ended) != was or stored is None
    else:
        raise ValueError(f"unknown input kind {kind!r}")
    return outs, state.to_dict() if changed else None


def _stable_text(state: CallState, segment_id: str) -> str | None:
    """The stable partial text already matched for an open utterance (None: none open)."""
    entry = state.partials.get(segment_id)
    return entry.stable if entry is not None else None
