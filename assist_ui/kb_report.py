"""The KB owners' report: per KB entry (or strategy), how often it was suggested in stored
calls, how agents rated it, and its hit rate.  Entries that share an intent get a row each (the
owners fix articles, not intents); suggestions stored before entry ids existed fall back to one
row per intent (``entry_id`` "").

``hit_rate`` = useful / suggested: of all the times the entry was put in front of an agent,
how often an agent said it helped.  ``useful_share`` = useful / rated: among the ratings only
(most suggestions are never rated).  Rows are sorted worst first (lowest hit rate among the
most suggested), since those are the articles the owners should look at.
"""

from __future__ import annotations

from typing import Any

from assist_ui.store import QaStore


def build_report(suggested: list[dict[str, Any]], feedback: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}

    def row(kind: str, entry_id: str, intent: str, title: str) -> dict[str, Any]:
        key = (kind or "", entry_id or "", intent or "")
        found = rows.setdefault(key, {"kind": key[0], "entry_id": key[1], "intent": key[2], "title": title or "",
                                      "suggested": 0, "useful": 0, "not_useful": 0})
        found["title"] = found["title"] or title or ""
        return found

    for s in suggested:
        row(s["kind"], s.get("entry_id", ""), s["intent"], s["title"])["suggested"] += int(s["suggested"] or 0)
    for f in feedback:
        r = row(f["kind"], f.get("entry_id", ""), f["intent"], f["title"])
        r["useful"] += int(f["useful"] or 0)
        r["not_useful"] += int(f["not_useful"] or 0)
    _fold_rows_without_entry(rows)
    for r in rows.values():
        rated = r["useful"] + r["not_useful"]
        # feedback on a live call whose summary is not stored yet still counts as shown
        shown = max(r["suggested"], rated)
        r["rated"] = rated
        r["hit_rate"] = round(r["useful"] / shown, 4) if shown else None
        r["useful_share"] = round(r["useful"] / rated, 4) if rated else None
    return sorted(rows.values(), key=lambda r: (r["hit_rate"] if r["hit_rate"] is not None else 2.0,
                                                -r["suggested"], r["kind"], r["intent"], r["entry_id"]))


def _fold_rows_without_entry(rows: dict[tuple[str, str, str], dict[str, Any]]) -> None:
    """A row stored before entry ids (``entry_id`` "") joins the one entry of its intent; when
    several entries share the intent it cannot be told apart and keeps its own row."""
    for key in [k for k in rows if not k[1]]:
        kind, _, intent = key
        owners = [k for k in rows if k[0] == kind and k[2] == intent and k[1]]
        if len(owners) == 1:
            old, into = rows.pop(key), rows[owners[0]]
            for field in ("suggested", "useful", "not_useful"):
                into[field] += old[field]
            into["title"] = into["title"] or old["title"]


async def kb_report(store: QaStore) -> list[dict[str, Any]]:
    suggested, feedback = await store.kb_usage()
    return build_report(suggested, feedback)
