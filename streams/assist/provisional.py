"""Alerts and suggestions from stable partial text (pure logic, no Faust).

The ASR worker sends partial segments of the utterance that is still being spoken; each
carries ``stable_len``, the leading characters LocalAgreement has committed and will not
rewrite.  That stable prefix is matched like a final, so the agent is warned while the
sentence is still going on.  A partial and the final that replaces it share their
``segment_id``, and alert ids are rule + segment, so the final confirms a provisional
alert under the same ``alert_id`` (an update, not a second alert).  The final is decoded
afresh from the whole utterance, so it can disagree with the partial: when it no longer
contains the phrase, the alert is retracted (an update with ``retracted: true``).

Suggestions from partial text are never retracted: a KB answer that appeared stays (no
flicker), and the final does not repeat it (suggestion keys are per call).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streams.assist.memory import OpenPartial
from streams.compliance.engine import ComplianceEngine
from streams.contract.records import Word
from streams.matching.phrases import overlaps
from streams.matching.segment import Segment
from streams.matching.text import NormText

MAX_OPEN_PARTIALS = 64  # utterances with provisional state; an open one per channel is the norm


@dataclass(slots=True)
class StablePart:
    segment: Segment  # the stable prefix as a segment (same id as the partial and its final)
    grew: bool  # longer than the stable text already matched for this segment


def stable_part(seg: Segment, stable_len: int, matched: str) -> StablePart | None:
    """The committed prefix of a partial, or None when nothing of it is stable yet.

    ``matched`` is the stable text this segment already had (stable words never change, so
    a prefix that is not longer is a replay or an older revision delivered late)."""
    text = seg.text[: max(0, stable_len)].rstrip()
    if not text.strip():
        return None
    words: list[Word] = []
    acc = ""
    for w in seg.words:
        if len((acc + w.text).strip()) > len(text):
            break
        acc += w.text
        words.append(w)
    end = words[-1].end if words else seg.start
    part = Segment(seg.segment_id, seg.channel, seg.start, max(end, seg.start), text, seg.language, words,
                   seg.produced_at)
    return StablePart(part, len(text) > len(matched))


def rule_matches(engine: ComplianceEngine, rule_id: str, norm: NormText) -> bool:
    """Does ``norm`` still contain the phrase of a forbidden or ordering rule (outside its exceptions)?"""
    kinds = {r.id: r.kind for r in engine.ruleset.rules}
    kind = kinds.get(rule_id)
    if kind not in ("forbidden", "ordering"):
        return False
    found = engine.matcher.find(norm)
    excepts = [m for m in found if m.key == f"except:{rule_id}"]
    return any(m.key == f"{kind}:{rule_id}" and not any(overlaps(m, e) for e in excepts) for m in found)


def remember_partial(partials: dict[str, OpenPartial], segment_id: str, channel: str) -> OpenPartial:
    """The provisional record of one open utterance, created on first use (oldest forgotten)."""
    entry = partials.get(segment_id)
    if entry is None:
        entry = partials[segment_id] = OpenPartial(channel)
        while len(partials) > MAX_OPEN_PARTIALS:
            del partials[next(iter(partials))]
    return entry


def settle(state_alerts: list[dict[str, Any]], alert_ids: list[str], engine: ComplianceEngine, norm: NormText,
           final_drafts: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Confirm or retract the provisional alerts of a segment against its final text.

    Returns the updated alert dicts (to send again under the same id) and the rule ids of
    the retracted ones.  A confirmed alert takes the final's evidence when the final drafted
    the same alert (exact word times from the final decode)."""
    by_id = {a["alert_id"]: a for a in state_alerts}
    updates, retracted = [], []
    for alert_id in alert_ids:
        a = by_id.get(alert_id)
        if a is None or not a.get("provisional"):
            continue
        if alert_id in final_drafts or rule_matches(engine, a["rule_id"], norm):
            keep = {k: a[k] for k in ("call_id", "rules_version", "source_produced_at") if k in a}
            a.update(final_drafts.get(alert_id, {}), **keep)
            a["provisional"] = False
        else:
            a["provisional"] = False
            a["retracted"] = True
            retracted.append(a["rule_id"])
        updates.append(dict(a))
    return updates, retracted
