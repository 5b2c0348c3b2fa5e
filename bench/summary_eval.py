"""Measure the call summary on the annotated dialogues (tests/data/dialogues).

    python -m bench.summary_eval [DIR] [--split dev|heldout] [--show]

Each dialogue is replayed through the same knowledge base and rules as the live processors
(``streams.assist.check``), the summary is built from the result exactly as for a stored call, and
its reason for calling is compared with the annotation: the dialogue's first customer
``gold_intent`` other than "none" (a call with no such line must get no intent).  On the dialogues
annotated with ``summary_commitments`` / ``summary_outcome`` (the held-out split; the manifest says
how) the agent's commitments are scored per call and kind (precision / recall of the kinds found)
and the outcome by accuracy.  The emotion arc is scored on every dialogue by accuracy against its
``summary_arc`` (calm / escalating / de_escalated / upset_throughout, annotated from the customer's
lines as text; the definitions are in the manifest header): ``arc_accuracy`` with the evidence a
stored call has (the customer's words and the dialogue's voice windows, which are synthetic, angry
throughout where present), ``arc_words_only_accuracy`` with the voice windows removed; ``--show``
lists each wrong arc with its reasons.  Thresholds were set on the dev split only; held-out is the
claim.  The voice side on real audio is ``bench.emotion_arc_audio``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from assist_ui.call_summary import call_intent_gold, summarise
from assist_ui.emotion_arc import customer_arc
from streams.assist.assistant import Assistant
from streams.assist.check import read_transcript, run_items
from streams.compliance.source import DEFAULT_RULES
from streams.kb.source import DEFAULT_KB

DEFAULT_DIR = Path(__file__).resolve().parents[1] / "tests" / "data" / "dialogues"


def summary_segments(annotated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in annotated if "text" in a and "segment_id" in a]


def stored_call(name: str, annotated: list[dict[str, Any]], out: list[dict[str, Any]]) -> dict[str, Any]:
    segs = [dict(a, call_id=name) for a in summary_segments(annotated)]
    emotion = [{"channel": a.get("channel", "customer"), "at": a.get("start", 0), "arousal": a["arousal"],
                "state": a.get("state", "")} for a in annotated if "arousal" in a]
    langs = {s.get("language") for s in segs if s.get("language")}
    return {"call_id": name, "language": langs.pop() if len(langs) == 1 else "", "transcript": segs,
            "alerts": [o for o in out if o["type"] == "alert"], "suggestions": [o for o in out if o["type"] == "suggestion"],
            "emotion": emotion}


def evaluate(directory: Path, split: str | None, show: bool = False) -> dict[str, Any]:
    manifest = yaml.safe_load((directory / "manifest.yaml").read_text(encoding="utf-8"))["dialogues"]
    assistant = Assistant.from_files(DEFAULT_KB, DEFAULT_RULES)
    total = correct = 0
    wrong: list[str] = []
    commit = {"tp": 0, "predicted": 0, "gold": 0, "calls": 0, "exact": 0}
    outcomes = {"calls": 0, "correct": 0}
    outcome_wrong: list[str] = []
    arcs = {"calls": 0, "correct": 0, "words_only": 0}
    arc_wrong: list[str] = []
    for name, meta in manifest.items():
        if split is not None and meta.get("split", "dev") != split:
            continue
        lines = (directory / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        annotated = [json.loads(x) for x in lines if x.strip()]
        items, errors = read_transcript(lines, name)
        if errors:
            raise ValueError(f"{name}: malformed lines {errors}")
        summary = summarise(stored_call(name, annotated, run_items(assistant, name, items)))
        gold, got = call_intent_gold(annotated), summary["reason"]["intent"] or "none"
        total += 1
        correct += gold == got
        if gold != got:
            wrong.append(f"{name}: gold {gold}, summary {got}")
        if "summary_commitments" in meta:
            want = set(meta["summary_commitments"] or [])
            found = {k for c in summary["agent_committed"] for k in c["kinds"]}
            commit["tp"] += len(want & found)
            commit["predicted"] += len(found)
            commit["gold"] += len(want)
            commit["calls"] += 1
            commit["exact"] += want == found
            if want != found:
                outcome_wrong.append(f"{name}: commitments gold {sorted(want)}, summary {sorted(found)}")
        if "summary_outcome" in meta:
            outcomes["calls"] += 1
            outcomes["correct"] += meta["summary_outcome"] == summary["outcome"]
            if meta["summary_outcome"] != summary["outcome"]:
                outcome_wrong.append(f"{name}: outcome gold {meta['summary_outcome']}, summary {summary['outcome']}")
        if "summary_arc" in meta:
            gold_arc, got_arc = meta["summary_arc"], summary["emotion"]["arc"]
            # the same call without its voice readings: what the words alone say
            words_arc = customer_arc(summary_segments(annotated), [], None, summary["language"])["arc"]
            arcs["calls"] += 1
            arcs["correct"] += gold_arc == got_arc
            arcs["words_only"] += gold_arc == words_arc
            if gold_arc != got_arc:
                arc_wrong.append(f"{name}: arc gold {gold_arc}, summary {got_arc} ({'; '.join(summary['emotion']['reasons'])})")
        if show:
            print(json.dumps({"dialogue": name, **summary}, ensure_ascii=False))
    result: dict[str, Any] = {"split": split or "all", "dialogues": total,
                              "reason_accuracy": round(correct / total, 3) if total else 0.0,
                              "correct": correct, "wrong": wrong}
    if commit["calls"]:
        result["commitments"] = {
            **commit,
            "precision": round(commit["tp"] / commit["predicted"], 3) if commit["predicted"] else None,
            "recall": round(commit["tp"] / commit["gold"], 3) if commit["gold"] else None,
            "exact_calls": round(commit["exact"] / commit["calls"], 3),
        }
    if outcomes["calls"]:
        result["outcome_accuracy"] = round(outcomes["correct"] / outcomes["calls"], 3)
        result["outcome_calls"] = outcomes["calls"]
    if commit["calls"] or outcomes["calls"]:
        result["summary_wrong"] = outcome_wrong
    if arcs["calls"]:
        result["arc_accuracy"] = round(arcs["correct"] / arcs["calls"], 3)
        result["arc_words_only_accuracy"] = round(arcs["words_only"] / arcs["calls"], 3)
        result["arc_calls"] = arcs["calls"]
        result["arc_correct"] = arcs["correct"]
        if show:
            result["arc_wrong"] = arc_wrong
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.summary_eval")
    p.add_argument("dir", nargs="?", type=Path, default=DEFAULT_DIR)
    p.add_argument("--split", choices=("dev", "heldout"))
    p.add_argument("--show", action="store_true", help="print each dialogue's summary")
    args = p.parse_args(argv)
    print(json.dumps(evaluate(args.dir, args.split, args.show), ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
