"""Intent recognition and answer retrieval over the knowledge base.

Two signals, combined by noisy-or into a score in [0, 1]:

* BM25 (bm25s) over the entries' trigger questions.  Each question is its own document;
  its score is divided by the best score any question could reach for the utterance's
  tokens, so it reads as "how much of what the caller said (IDF-weighted) this question
  covers", and an entry scores its best three questions weighted 1, 1/2, 1/4.  Tokens
  for Mandarin include jieba words, character bigrams and pinyin bigrams, so a wrong
  character or a homophone from the ASR costs one token, not the match.
* Trigger keywords, matched with the compliance phrase matcher (exact, stemmed tokens,
  pinyin).  A keyword shared by n entries counts 1/n as much.

The ranking is what the top-3 hit rate measures.  The top entry's ``confidence`` is the
calibrated probability that it is right (:mod:`streams.kb.calibration`, fitted when the
index is built, from the KB's own held-out questions and off-domain utterances); the
suggestion is made only from the top entry, and only when its confidence reaches
``settings.min_score``.  Anything below that is "nothing in the KB fits": no suggestion.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import bm25s
import numpy as np

from streams.kb import calibration
from streams.kb.fit import RankFn, fit_index_calibration
from streams.kb.model import Entry, KnowledgeBase
from streams.matching.meaning import negated_before
from streams.matching.phrases import PhraseMatcher, PhraseSpec
from streams.matching.text import NormText, normalize, retrieval_tokens, unique

CONTEXT_WEIGHT = 0.6
QUESTION_WEIGHTS = np.array([1.0, 0.5, 0.25])
AGREEMENT_DOCS = 10
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG


@lru_cache(maxsize=65536)
def _norm_text(phrase: str) -> str:
    return normalize(phrase).text


@lru_cache(maxsize=262144)
def _question_tokens(text: str) -> tuple[str, ...]:
    # cached: the calibration's held-out index and every reload re-tokenise the same questions
    return tuple(_tokens(text))


def _tokens(text: str) -> list[str]:
    """Retrieval tokens minus lone Latin letters and digits: after normalisation "can't" leaves a
    "t" and "that's" an "s", and an ASR fragment ("T.I") must not match a question through them."""
    return [t for t in unique(retrieval_tokens(text)) if not (len(t) == 1 and t.isascii())]


@dataclass(frozen=True, slots=True)
class Hit:
    entry: Entry
    score: float  # calibrated P(this entry is right) for the top hit; raw score x its share for the others
    question_score: float
    keyword_score: float
    question: str  # best-matching trigger question
    keywords: tuple[str, ...]  # keywords found, as said (original text)
    from_context: bool = False  # ranked by the previous utterance + this one
    raw_score: float = 0.0  # the uncalibrated retrieval score (what ranks)


@dataclass(slots=True)
class _Scores:
    total: np.ndarray
    q_score: np.ndarray
    kw_score: np.ndarray
    q_best: list[int]
    kw_found: dict[int, list[str]]
    n_tokens: int = 0
    unknown_share: float = 0.0  # share of the utterance's tokens no question contains
    top_docs: tuple[int, ...] = ()  # entries of the best-scoring questions, best first (agreement)


class KBIndex:
    def __init__(self, kb: KnowledgeBase, *, negatives: list[str] | None = None, calibrate: bool = True,
                 calibration_seed: int = 0) -> None:
        """``negatives``: off-domain utterances for the calibration (default: the bundled
        set, :func:`streams.kb.offdomain.load`); ``calibrate=False`` keeps raw scores."""
        self.kb = kb
        self.version = kb.version
        self._doc_entry: list[int] = []
        self._doc_text: list[str] = []
        corpus: list[list[str]] = []
        for ei, e in enumerate(kb.entries):
            for q in e.questions.all():
                toks = list(_question_tokens(q))
                if toks:
                    corpus.append(toks)
                    self._doc_entry.append(ei)
                    self._doc_text.append(q)
        self._bm25 = bm25s.BM25()
        self._bm25.index(corpus, show_progress=False)
        # the most any question can score for a token (the max of its row in the BM25 matrix):
        # their sum over an utterance's tokens is the best score that utterance could reach
        sc = self._bm25.scores
        data, indptr = np.asarray(sc["data"], dtype=np.float32), np.asarray(sc["indptr"])
        self._token_max = np.zeros(len(indptr) - 1, dtype=np.float32)
        nonempty = indptr[1:] > indptr[:-1]
        if data.size:
            self._token_max[nonempty] = np.maximum.reduceat(data, indptr[:-1][nonempty])
        self._doc_entry_arr = np.array(self._doc_entry, dtype=np.int64)
        owners: dict[str, set[int]] = {}
        for ei, e in enumerate(kb.entries):
            for k in e.keywords.all():
                owners.setdefault(_norm_text(k), set()).add(ei)
        self._kw_weight = {k: kb.settings.keyword_weight / len(v) for k, v in owners.items()}
        self._kw = PhraseMatcher(
            [PhraseSpec(str(ei), k, fuzzy=False) for ei, e in enumerate(kb.entries) for k in e.keywords.all()],
            pinyin_min_chars=2,
        )
        self._cues = PhraseMatcher([PhraseSpec("cue", c, fuzzy=False) for c in kb.agitation_cues.all()])
        self.calibrator: calibration.Calibrator | None = None
        if calibrate:
            self.calibrator = fit_index_calibration(kb, KBIndex.raw_ranker, negatives, seed=calibration_seed)

    @staticmethod
    def raw_ranker(kb: KnowledgeBase) -> RankFn:
        """The uncalibrated ranking of an index on ``kb`` (what the calibration is fitted on)."""
        return KBIndex(kb, calibrate=False).rank_raw

    def agitation_cue(self, norm: NormText) -> tuple[int, int] | None:
        """Span (normalised text) of the first agitation cue in the text, if any."""
        found = self._cues.find(norm) if len(self._cues) else []
        return (found[0].start, found[0].end) if found else None

    def search(self, text: str, k: int = 3, norm: NormText | None = None, context: str = "") -> list[Hit]:
        """Entries ranked by score (best first), at most ``k``, score > 0 only.

        ``context``: the utterance that set the call's topic (or the caller's previous one).
        Follow-ups such as "and how much interest is that?" name no topic: the previous
        utterance + this one are ranked too, and that ranking is used when its confidence,
        damped by CONTEXT_WEIGHT, beats this utterance's own (so an utterance with its own
        topic still wins)."""
        chosen = self._ranked(self._score(text, norm or normalize(text)), k)
        from_context = False
        if context.strip():
            joined = f"{context} {text}"
            ctx = self._ranked(self._score(joined, normalize(joined)), k, damp=CONTEXT_WEIGHT)
            if ctx[2] > chosen[2]:
                chosen, from_context = ctx, True
        sc, order, conf = chosen
        scale = conf / float(sc.total[order[0]]) if len(order) else 1.0  # runners-up scaled like the top
        return [
            Hit(
                entry=self.kb.entries[ei],
                score=round(min(1.0, float(sc.total[ei]) * scale), 4),
                question_score=round(float(sc.q_score[ei]), 4),
                keyword_score=round(float(sc.kw_score[ei]), 4),
                question=self._doc_text[sc.q_best[ei]] if sc.q_best[ei] >= 0 else "",
                keywords=tuple(sc.kw_found.get(int(ei), ())),
                from_context=from_context,
                raw_score=round(float(sc.total[ei]), 4),
            )
            for ei in order[:k]
        ]

    def _ranked(self, sc: _Scores, k: int, damp: float = 1.0) -> tuple[_Scores, np.ndarray, float]:
        """(scores, entry order best first, confidence of the top entry)."""
        order = np.argsort(-sc.total, kind="stable")[: max(k, 2)]
        order = order[sc.total[order] > 0]
        if not len(order):
            return sc, order, 0.0
        raw = [float(sc.total[ei]) for ei in order]
        conf = self.calibrator.probability(self._features(sc, order, raw)) if self.calibrator else raw[0]
        return sc, order, damp * conf

    @staticmethod
    def _features(sc: _Scores, order: np.ndarray, raw: list[float]) -> list[float]:
        """Calibration features of a ranking (see :func:`calibration.ranking_features`)."""
        top = int(order[0]) if len(order) else -1
        agree = sum(1 for e in sc.top_docs if e == top) / len(sc.top_docs) if sc.top_docs else 0.0
        kw = float(sc.kw_score[top]) if top >= 0 else 0.0
        return calibration.ranking_features(raw, kw, sc.n_tokens, sc.unknown_share, agree)

    def rank_raw(self, text: str) -> tuple[list[int], list[float]]:
        """Entry indices (best first, top 3) and the calibration features of the ranking:
        what the calibration is fitted on."""
        cur = self._score(text, normalize(text))
        order = np.argsort(-cur.total, kind="stable")[:3]
        order = order[cur.total[order] > 0]
        raw = [float(cur.total[i]) for i in order]
        return [int(i) for i in order], self._features(cur, order, raw)

    def _score(self, text: str, norm: NormText) -> _Scores:
        n_entries = len(self.kb.entries)
        q_score = np.zeros(n_entries, dtype=np.float32)
        q_best = [-1] * n_entries
        toks = _tokens(text)
        unknown = 1.0
        top_docs: tuple[int, ...] = ()
        if toks:
            ids = [self._bm25.vocab_dict[t] for t in toks if t in self._bm25.vocab_dict]
            unknown = 1.0 - len(ids) / len(toks)
            potential = float(self._token_max[ids].sum()) if ids else 0.0
            doc = self._bm25.get_scores(toks) / potential if potential > 0 else np.zeros(len(self._doc_entry))
            hit = np.nonzero(doc > 0)[0]
            if hit.size:
                # per entry, its best questions weighted 1, 1/2, 1/4 (an entry that several of its
                # phrasings match is likelier than one lucky question); vectorised: a 10k-entry KB
                # has ~10^5 questions
                ents = self._doc_entry_arr[hit]
                order = np.lexsort((-doc[hit], ents))
                ents_o, hit_o = ents[order], hit[order]
                uniq, first = np.unique(ents_o, return_index=True)
                rank = np.arange(len(ents_o)) - np.repeat(first, np.diff(np.append(first, len(ents_o))))
                top = rank < len(QUESTION_WEIGHTS)
                agg = np.zeros(n_entries, dtype=np.float64)
                np.add.at(agg, ents_o[top], doc[hit_o[top]] * QUESTION_WEIGHTS[rank[top]])
                q_score = np.minimum(agg / QUESTION_WEIGHTS.sum(), 1.0).astype(np.float32)
                best = np.full(n_entries, -1, dtype=np.int64)
                best[uniq] = hit_o[first]
                q_best = best.tolist()
                near = hit[np.argsort(-doc[hit], kind="stable")[:AGREEMENT_DOCS]]
                top_docs = tuple(int(x) for x in self._doc_entry_arr[near])
        kw_miss = np.ones(n_entries, dtype=np.float32)
        kw_found: dict[int, list[str]] = {}
        for m in self._kw.find(norm):
            ei = int(m.key)
            said = norm.orig_text(m.start, m.end)
            if said in kw_found.get(ei, []):
                continue
            if not self.kb.entries[ei].denied_keywords_count and negated_before(norm.text, m.start):
                continue  # "no complaints", 没有投诉: the caller says the opposite
            kw_found.setdefault(ei, []).append(said)
            kw_miss[ei] *= 1.0 - self._kw_weight.get(_norm_text(m.phrase), 0.0)
        kw_score = 1.0 - kw_miss
        total = 1.0 - (1.0 - q_score) * (1.0 - kw_score)
        return _Scores(total, q_score, kw_score, q_best, kw_found, len(toks), unknown, top_docs)
