"""Agent-side knowledge-base search: the agent types a few words, in Mandarin or English,
and gets the best articles with their answer text, links and how sure the match is.

Unlike automatic suggestions, results below ``min_score`` are still listed (the agent asked);
each says its calibrated confidence and why it matched, so a weak hit reads as weak.
"""

from __future__ import annotations

from typing import Any

from streams.kb.index import KBIndex
from streams.matching.text import has_cjk

MAX_QUERY_CHARS = 200


def agent_search(index: KBIndex, query: str, k: int = 5, language: str = "") -> list[dict[str, Any]]:
    query = query.strip()[:MAX_QUERY_CHARS]
    if not query:
        return []
    lang = language or ("zh" if has_cjk(query) else "en")
    out = []
    for h in index.search(query, k=k):
        why = []
        if h.keywords:
            why.append("keywords: " + ", ".join(h.keywords))
        if h.question_score > 0:
            why.append(f"closest question: \u201c{h.question}\u201d")
        out.append({
            "entry_id": h.entry.id, "intent": h.entry.intent, "title": h.entry.title.pick(lang),
            "answer": h.entry.answer.pick(lang), "links": list(h.entry.links), "score": h.score,
            "suggestable": h.score >= index.kb.settings.min_score, "why": "; ".join(why),
            "kb_version": index.version, "language": lang,
        })
    return out
