"""Offline check: run the live knowledge base, rules and scoring over a transcript file.

Input: JSON lines as ``callassist asr transcribe`` prints them -- one final segment per
line with ``channel``, ``start``, ``end``, ``text`` and optionally ``language``,
``segment_id``, ``words``.  Lines may also carry emotion windows (``state`` +
``arousal``) or call events (``kind``: started/ended); other keys are ignored, so an
annotated transcript (``gold_*`` keys) is valid input.

Records are replayed in call-time order through :class:`streams.assist.assistant.Assistant`, the
same object the Faust agents use.  Output: JSON lines of ``type`` ``suggestion``,
``alert`` and, last, ``risk``.  A malformed line is reported with its line number on
stderr and skipped; the rest of the file is still checked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.assist.assistant import Assistant
from streams.assist.callstate import CallState, EmotionPoint
from streams.contract.records import Word
from streams.matching.segment import Segment

CHANNELS = ("agent", "customer")


class LineError(ValueError):
    pass


@dataclass(slots=True)
class Item:
    order: float
    seq: int
    kind: str  # segment | emotion | started | ended
    payload: Any


def _num(obj: dict, key: str, default: float | None = None) -> float:
    v = obj.get(key, default)
    if v is None:
        raise LineError(f"missing field {key!r}")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise LineError(f"field {key!r} must be a number, got {type(v).__name__}")
    return float(v)


def _channel(obj: dict) -> str:
    ch = obj.get("channel")
    if ch not in CHANNELS:
        raise LineError(f"field 'channel' must be one of {', '.join(CHANNELS)}, got {ch!r}")
    return ch


def parse_line(obj: Any, n: int) -> Item | None:
    """One input line -> Item; None for lines to skip silently (partial segments)."""
    if not isinstance(obj, dict):
        raise LineError(f"expected a JSON object, got {type(obj).__name__}")
    if "text" in obj:
        if obj.get("is_final") is False:
            return None
        text = obj["text"]
        if not isinstance(text, str):
            raise LineError(f"field 'text' must be a string, got {type(text).__name__}")
        start, end = _num(obj, "start"), _num(obj, "end")
        if end < start:
            raise LineError(f"end ({end}) is before start ({start})")
        words = []
        for w in obj.get("words") or []:
            wtext = w.get("text", w.get("word")) if isinstance(w, dict) else None
            if isinstance(wtext, str):  # word timings are optional: odd ones are ignored
                words.append(Word(start=_num(w, "start"), end=_num(w, "end"), text=wtext))
        seg = Segment(
            segment_id=str(obj.get("segment_id") or f"seg-{n}"),
            channel=_channel(obj),
            start=start,
            end=end,
            text=text,
            language=str(obj.get("language") or ""),
            words=words,
            produced_at=float(obj.get("produced_at") or 0.0),
        )
        return Item(end, n, "segment", seg)
    if "arousal" in obj and "state" in obj:
        end = _num(obj, "end", obj.get("at"))
        ch = _channel(obj)
        probs = obj.get("probs")
        p = EmotionPoint(
            window_id=str(obj.get("window_id") or f"win-{ch}-{n}"),
            channel=ch,
            start=_num(obj, "start", end),
            end=end,
            state=str(obj["state"]),
            arousal=_num(obj, "arousal"),
            probs=probs if isinstance(probs, dict) else {},
        )
        return Item(end, n, "emotion", p)
    if obj.get("kind") in ("started", "ended"):
        order = float("-inf") if obj["kind"] == "started" else float("inf")
        return Item(order, n, obj["kind"], obj)
    raise LineError("not a transcript segment (text), emotion window (state, arousal) or call event (kind)")


def read_transcript(lines: Iterable[str], source: str = "<input>") -> tuple[list[Item], list[str]]:
    items: list[Item] = []
    errors: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = parse_line(json.loads(line), n)
        except json.JSONDecodeError as exc:
            errors.append(f"{source}:{n}: not JSON ({exc.msg})")
            continue
        except LineError as exc:
            errors.append(f"{source}:{n}: {exc}")
            continue
        if item is not None:
            items.append(item)
    items.sort(key=lambda it: (it.order, it.seq))
    return items, errors


def run_items(assistant: Assistant, call_id: str, items: list[Item], *, with_intents: bool = False) -> list[dict]:
    """Replay items through the assistant; returns the output lines (dicts with ``type``)."""
    state = CallState(call_id=call_id)
    out: list[dict] = []

    def emit(o, ref: str = "") -> None:
        now = time.time()
        for s in o.suggestions:
            out.append({"type": "suggestion", **s, "produced_at": now})
        for a in o.alerts:
            out.append({"type": "alert", **a, "produced_at": now})
        if with_intents and o.intents:
            out.append({"type": "intents", "call_id": call_id, "segment_id": ref, "ranking": o.intents})

    ended = False
    for it in items:
        if it.kind == "segment":
            emit(assistant.on_segment(state, it.payload), it.payload.segment_id)
        elif it.kind == "emotion":
            emit(assistant.on_emotion(state, it.payload))
        else:
            ev = it.payload
            o = assistant.on_event(state, it.kind, ts=float(ev.get("ts") or 0.0),
                                   duration=float(ev.get("duration") or 0.0), meta=ev)
            emit(o)
            ended = ended or it.kind == "ended"
    if not ended:  # a transcript file is a whole call
        emit(assistant.on_event(state, "ended", duration=state.call_time))
    summary = assistant.summary(state)
    out.append({
        "type": "risk",
        "call_id": call_id,
        "risk_score": summary["risk_score"],
        "risk_level": summary["risk_level"],
        "reasons": summary["reasons"],
        "duration": summary["duration"],
        "alerts": len(state.alerts),
        "suggestions": len(state.suggestions),
        "kb_version": summary["kb_version"],
        "rules_version": summary["rules_version"],
    })
    return out


def check_file(assistant: Assistant, path: Path | str, *, call_id: str = "",
               with_intents: bool = False) -> tuple[list[dict], list[str]]:
    p = Path(path)
    with p.open(encoding="utf-8") as fh:
        items, errors = read_transcript(fh, str(p))
    return run_items(assistant, call_id or p.stem, items, with_intents=with_intents), errors


# ---------------------------------------------------------------------------
# Evaluation against an annotated set (tests/data/dialogues): same replay, scored
# ---------------------------------------------------------------------------
def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 1.0


def evaluate_dir(assistant: Assistant, directory: Path | str, split: str | None = None) -> dict[str, Any]:
    """Alert precision/recall (all alerts, and "violation" alerts only), KB top-1/top-3 hit
    rate, false suggestions and strategy precision/recall over the dialogues listed in
    ``directory/manifest.yaml`` (those of ``split`` -- "dev" or "heldout" -- when given).
    A manifest entry with ``segment_rules_only: true`` is a set of separate utterances, not
    a call: its missing-phrase (deadline) alerts are not scored."""
    import yaml

    d = Path(directory)
    manifest = yaml.safe_load((d / "manifest.yaml").read_text(encoding="utf-8"))["dialogues"]
    if split is not None:
        manifest = {k: v for k, v in manifest.items() if v.get("split", "dev") == split}
    gold_alerts: set[tuple[str, str, str]] = set()
    pred_alerts: set[tuple[str, str, str]] = set()
    pred_checks: set[tuple[str, str, str]] = set()  # status "check": for QA, not a violation
    gold_strat: set[tuple[str, str]] = set()
    pred_strat: set[tuple[str, str]] = set()
    intent_total = top1 = top3 = none_total = false_sugg = 0
    kb_sugg = kb_sugg_ok = no_suggest_violations = segments = 0
    misses: list[str] = []
    for name, meta in manifest.items():
        path = d / f"{name}.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines()
        annotated = [json.loads(x) for x in lines if x.strip()]
        items, errors = read_transcript(lines, str(path))
        if errors:
            raise ValueError(f"annotated set has malformed lines: {errors}")
        out = run_items(assistant, name, items, with_intents=True)
        gold_intent = {a["segment_id"]: a["gold_intent"] for a in annotated if "gold_intent" in a}
        segments += sum(1 for a in annotated if "text" in a)
        for a in annotated:
            for rule in a.get("gold_alerts", []):
                gold_alerts.add((name, rule, a["segment_id"]))
        for rule in meta.get("call_alerts", []):
            gold_alerts.add((name, rule, ""))
        gold_strat |= {(name, s) for s in meta.get("strategies", [])}
        ranking = {o["segment_id"]: [r["intent"] for r in o["ranking"]] for o in out if o["type"] == "intents"}
        suggested = {o["segment_id"]: o["intent"] for o in out if o["type"] == "suggestion" and o["kind"] == "kb"}
        for o in out:
            if o["type"] == "alert":
                if o["rule_kind"] == "required_missing" and meta.get("segment_rules_only"):
                    continue  # separate utterances, not a call: no call-level deadlines
                seg = "" if o["rule_kind"] == "required_missing" else o["segment_id"]
                pred_alerts.add((name, o["rule_id"], seg))
                if o.get("status") == "check":
                    pred_checks.add((name, o["rule_id"], seg))
            elif o["type"] == "suggestion" and o["kind"] == "strategy":
                pred_strat.add((name, o["suggestion_id"].split(":")[-1]))
            elif o["type"] == "suggestion" and o["intent"] in meta.get("no_suggest", []):
                no_suggest_violations += 1
        for seg_id, gi in gold_intent.items():
            ranked = ranking.get(seg_id, [])
            if gi == "none":
                none_total += 1
                false_sugg += seg_id in suggested
                continue
            intent_total += 1
            top1 += bool(ranked) and ranked[0] == gi
            top3 += gi in ranked[:3]
            if gi not in ranked[:3]:
                misses.append(f"{seg_id}: gold {gi}, ranked {ranked}")
            if seg_id in suggested:
                kb_sugg += 1
                kb_sugg_ok += suggested[seg_id] == gi
    tp = gold_alerts & pred_alerts
    violations = pred_alerts - pred_checks
    stp = gold_strat & pred_strat
    return {
        "split": split or "all",
        "dialogues": len(manifest),
        "segments": segments,
        "alerts": {
            "gold": len(gold_alerts), "predicted": len(pred_alerts), "true_positive": len(tp),
            "precision": _ratio(len(tp), len(pred_alerts)), "recall": _ratio(len(tp), len(gold_alerts)),
            "false_positives": sorted("/".join(x) for x in pred_alerts - gold_alerts),
            "false_negatives": sorted("/".join(x) for x in gold_alerts - pred_alerts),
            # "violation" alerts only (what an agent is held to), and the "check" ones QA looks at
            "violations": len(violations), "violation_precision": _ratio(len(violations & gold_alerts), len(violations)),
            "violation_recall": _ratio(len(violations & gold_alerts), len(gold_alerts)),
            "checks": len(pred_checks), "checks_right": len(pred_checks & gold_alerts),
            "false_alerts_per_call": round(len(pred_alerts - gold_alerts) / len(manifest), 3) if manifest else 0.0,
        },
        "kb": {
            "labelled_segments": intent_total,
            "top1": _ratio(top1, intent_total), "top3": _ratio(top3, intent_total),
            "suggestions_on_labelled": kb_sugg, "suggestion_precision": _ratio(kb_sugg_ok, kb_sugg),
            "suggestion_coverage": _ratio(kb_sugg, intent_total),
            "none_segments": none_total, "false_suggestion_rate": _ratio(false_sugg, none_total),
            "no_suggest_violations": no_suggest_violations,
            "top3_misses": misses,
        },
        "strategies": {
            "gold": len(gold_strat), "predicted": len(pred_strat),
            "precision": _ratio(len(stp), len(pred_strat)), "recall": _ratio(len(stp), len(gold_strat)),
            "false_positives": sorted("/".join(x) for x in pred_strat - gold_strat),
            "false_negatives": sorted("/".join(x) for x in gold_strat - pred_strat),
        },
    }
