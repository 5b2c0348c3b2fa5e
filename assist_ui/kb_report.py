"""The KB owners' report: per suggested intent (KB entry or strategy), how often it was
suggested in stored calls, how agents rated it, and its hit rate.

``hit_rate`` = useful / suggested: of all the times the entry was put in front of an agent,
how often an agent said it helped.  ``useful_share`` = useful / rated: among the ratings only
(most suggestions are never rated).  Rows are sorted worst first (lowest hit rate among the
most suggested), since those are the articles the owners should look at.
"""

from __future__ import annotations

from typing import Any

from assist_ui.store import QaStore


def build_report(suggested: list[dict[str, Any]], feedback: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}

    def row(kind: str, intent: str, title: str) -> dict[str, Any]:
        key = (kind or "", intent or "")
        found = rows.setdefault(key, {"kind": key[0], "intent": key[1], "title": title or "", "suggested": 0,
                                      "useful": 0, "not_useful": 0})
        found["title"] = found["title"] or title or ""
        return found

    for s in suggested:
        row(s["kind"], s["intent"], s["title"])["suggested"] += int(s["suggested"] or 0)
    for f in feedback:
        r = row(f["kind"], f["intent"], f["title"])
        r["useful"] += int(f["useful"] or 0)
        r["not_useful"] += int(f["not_useful"] or 0)
    for r in rows.values():
        rated = r["useful"] + r["not_useful"]
        # feedback on a live call whose summary is not stored yet still counts as shown
        shown = max(r["suggested"], rated)
        r["rated"] = rated
        r["hit_rate"] = round(r["useful"] / shown, 4) if shown else None
        r["useful_share"] = round(r["useful"] / rated, 4) if rated else None
    return sorted(rows.values(), key=lambda r: (r["hit_rate"] if r["hit_rate"] is not None else 2.0,
                                                -r["suggested"], r["kind"], r["intent"]))


async def kb_report(store: QaStore) -> list[dict[str, Any]]:
    suggested, feedback = await store.kb_usage()
    return build_report(suggested, feedback)
