"""Intent recognition and answer retrieval over the knowledge base.

Two signals, combined by noisy-or into a score in [0, 1]:

* BM25 (bm25s) over the entries' trigger questions.  Each question is its own document;
  its score is divided by the score the question gets against itself, so the number
  reads as "how much of this trigger question (IDF-weighted) the caller said".  Tokens
  for Mandarin include jieba words, character bigrams and pinyin bigrams, so a wrong
  character or a homophone from the ASR costs one token, not the match.
* Trigger keywords, matched with the compliance phrase matcher (exact, stemmed tokens,
  pinyin).  A keyword shared by n entries counts 1/n as much.

The ranking is what the top-3 hit rate measures; a suggestion is made only from the
top entry, and only when its score reaches ``settings.min_score``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import bm25s
import numpy as np

from streams.compliance.matcher import PhraseMatcher, PhraseSpec
from streams.kb.model import Entry, KnowledgeBase
from streams.kb.text import NormText, normalize, retrieval_tokens, unique

CONTEXT_WEIGHT = 0.6
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    score: float
    question_score: float
    keyword_score: float
    question: str  # best-matching trigger question
    keywords: tuple[str, ...]  # keywords found, as said (original text)
    from_context: bool = False  # ranked by the previous utterance + this one


@dataclass(slots=True)
class _Scores:
    total: np.ndarray
    q_score: np.ndarray
    kw_score: np.ndarray
    q_best: list[int]
    kw_found: dict[int, list[str]]


class KBIndex:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.version = kb.version
        self._doc_entry: list[int] = []
        self._doc_text: list[str] = []
        corpus: list[list[str]] = []
        for ei, e in enumerate(kb.entries):
            for q in e.questions.all():
                toks = unique(retrieval_tokens(q))
                if toks:
                    corpus.append(toks)
                    self._doc_entry.append(ei)
                    self._doc_text.append(q)
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)
        self._self = np.array(
            [max(float(self._bm25.get_scores(toks)[d]), 1e-6) for d, toks in enumerate(corpus)], dtype=np.float32
        )
        self._doc_entry_arr = np.array(self._doc_entry)
        owners: dict[str, set[int]] = {}
        for ei, e in enumerate(kb.entries):
            for k in e.keywords.all():
                owners.setdefault(normalize(k).text, set()).add(ei)
        self._kw_weight = {k: kb.settings.keyword_weight / len(v) for k, v in owners.items()}
        self._kw = PhraseMatcher(
            [PhraseSpec(str(ei), k, fuzzy=False) for ei, e in enumerate(kb.entries) for k in e.keywords.all()],
            pinyin_min_chars=2,
        )
        self._cues = PhraseMatcher([PhraseSpec("cue", c, fuzzy=False) for c in kb.agitation_cues.all()])

    def agitation_cue(self, norm: NormText) -> tuple[int, int] | None:
        """Span (normalised text) of the first agitation cue in the text, if any."""
        found = self._cues.find(norm) if len(self._cues) else []
        return (found[0].start, found[0].end) if found else None

    def search(self, text: str, k: int = 3, norm: NormText | None = None, context: str = "") -> list[Hit]:
        """Entries ranked by score (best first), at most ``k``, score > 0 only.

        ``context``: the caller's previous utterance.  Follow-ups such as "and how much
        interest is that?" name no topic; scored together with the previous utterance,
        damped by CONTEXT_WEIGHT so an utterance with its own topic still wins."""
        cur = self._score(text, norm or normalize(text))
        total = cur.total
        from_context = np.zeros_like(total, dtype=bool)
        if context.strip():
            joined = f"{context} {text}"
            ctx = self._score(joined, normalize(joined))
            damped = CONTEXT_WEIGHT * ctx.total
            from_context = damped > total
            total = np.maximum(total, damped)
        order = np.argsort(-total, kind="stable")[:k]
        return [
            Hit(
                entry=self.kb.entries[ei],
                score=round(float(total[ei]), 4),
                question_score=round(float(cur.q_score[ei]), 4),
                keyword_score=round(float(cur.kw_score[ei]), 4),
                question=self._doc_text[cur.q_best[ei]] if cur.q_best[ei] >= 0 else "",
                keywords=tuple(cur.kw_found.get(int(ei), ())),
                from_context=bool(from_context[ei]),
            )
            for ei in order
            if total[ei] > 0
        ]

    def _score(self, text: str, norm: NormText) -> _Scores:
        n_entries = len(self.kb.entries)
        q_score = np.zeros(n_entries, dtype=np.float32)
        q_best = [-1] * n_entries
        toks = unique(retrieval_tokens(text))
        if toks:
            doc = np.minimum(self._bm25.get_scores(toks) / self._self, 1.0)
            for d in np.nonzero(doc > 0)[0]:
                ei = self._doc_entry[d]
                if doc[d] > q_score[ei]:
                    q_score[ei], q_best[ei] = doc[d], int(d)
        kw_miss = np.ones(n_entries, dtype=np.float32)
        kw_found: dict[int, list[str]] = {}
        for m in self._kw.find(norm):
            ei = int(m.key)
            said = norm.orig_text(m.start, m.end)
            if said in kw_found.get(ei, []):
                continue
            kw_found.setdefault(ei, []).append(said)
            kw_miss[ei] *= 1.0 - self._kw_weight.get(normalize(m.phrase).text, 0.0)
        kw_score = 1.0 - kw_miss
        total = 1.0 - (1.0 - q_score) * (1.0 - kw_score)
        return _Scores(total, q_score, kw_score, q_best, kw_found)
