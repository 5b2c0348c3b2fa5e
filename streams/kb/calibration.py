"""A relevance score that means something: P(the top entry is the right one).

The raw retrieval score (BM25 share of a trigger question, noisy-or with keywords) ranks
well but its value is not a probability: 0.46 on an off-domain sentence and 0.46 on a
real question look the same.  A :class:`Calibrator` maps features of a ranking (the top
score, its margin over the runner-up, how much of it came from keywords, how long the
utterance was) to the probability that the top entry is what the caller wants -- a
logistic model (Platt scaling with a few features) fitted on held-out questions.

:func:`fit_for_index` fits it for any knowledge base without labelled traffic: it holds
out a share of each entry's trigger questions, builds an index from the rest, ranks the
held-out questions (label: top-1 is their entry) and a set of off-domain utterances
(label: wrong by definition), and fits on those.  The held-out questions never take
part in the index they are scored against, so the probability is an honest estimate
for a paraphrase the KB does not contain.

Pure numpy at run time (scikit-learn is only a training extra).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FEATURES = ("top", "margin", "keyword", "length", "unknown", "agreement")


def ranking_features(scores: Sequence[float], keyword_score: float, n_tokens: int, unknown_share: float,
                     agreement: float) -> list[float]:
    """Features of one ranking: ``scores`` best first (raw), the top entry's keyword part,
    the number of retrieval tokens of the utterance, the share of them that no trigger
    question contains (an off-domain sentence is full of words the KB never uses), and
    the share of the best-scoring questions that belong to the top entry."""
    top = scores[0] if scores else 0.0
    second = scores[1] if len(scores) > 1 else 0.0
    return [top, top - second, keyword_score, math.log1p(n_tokens), unknown_share, agreement]


@dataclass(frozen=True)
class Calibrator:
    coef: tuple[float, ...]
    intercept: float
    fitted_on: dict[str, int] = field(default_factory=dict)  # counts of the fitting set, for reports

    def probability(self, features: Sequence[float]) -> float:
        z = self.intercept + sum(c * x for c, x in zip(self.coef, features, strict=True))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50,
                 weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Weighted logistic regression by Newton's method (IRLS), small L2 penalty on the weights."""
    n, d = x.shape
    sw = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64) * n / float(np.sum(weights))
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.full(d + 1, l2 * n)
    reg[-1] = 0.0  # no penalty on the intercept
    for _ in range(iters):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (sw * (p - y)) + reg * w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return w[:-1], float(w[-1])


def fit(features: list[list[float]], labels: list[int], fitted_on: dict[str, int] | None = None,
        weights: list[float] | None = None) -> Calibrator:
    if len(set(labels)) < 2:
        raise ValueError("calibration needs both right and wrong top-1 examples")
    coef, intercept = fit_logistic(np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=np.float64),
                                   weights=None if weights is None else np.asarray(weights))
    return Calibrator(tuple(round(float(c), 6) for c in coef), round(intercept, 6), dict(fitted_on or {}))


@dataclass(frozen=True)
class Reliability:
    """How well predicted probabilities match observed hit rates, in equal-width bins."""

    bins: list[dict[str, Any]]
    ece: float  # expected calibration error: weighted mean |predicted - observed|
    brier: float


def reliability(probs: Sequence[float], labels: Sequence[int], n_bins: int = 10) -> Reliability:
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    rows = []
    ece = 0.0
    for b in range(n_bins):
        lo, hi = b / n_bins, (b + 1) / n_bins
        sel = (p >= lo) & ((p < hi) if b < n_bins - 1 else (p <= hi))
        if not sel.any():
            continue
        pred, obs = float(p[sel].mean()), float(y[sel].mean())
        ece += sel.sum() / len(p) * abs(pred - obs)
        rows.append({"bin": f"{lo:.1f}-{hi:.1f}", "n": int(sel.sum()), "predicted": round(pred, 3),
                     "observed": round(obs, 3)})
    return Reliability(rows, round(ece, 4), round(float(np.mean((p - y) ** 2)), 4) if len(p) else 0.0)


# ---------------------------------------------------------------------------
# fitting for a knowledge base from its own questions
# ---------------------------------------------------------------------------
Ranker = Callable[[str], tuple[list[str], list[float]]]  # -> (entry ids best first, ranking features)


def split_questions(questions_by_entry: dict[str, list[str]], holdout: float, seed: int,
                    max_heldout: int) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """(kept questions per entry, held-out (entry id, question) pairs).  An entry keeps at
    least one question; entries with a single question are not held out."""
    rng = random.Random(seed)
    kept: dict[str, list[str]] = {}
    held: list[tuple[str, str]] = []
    for eid, qs in questions_by_entry.items():
        qs = list(qs)
        rng.shuffle(qs)
        n_out = min(len(qs) - 1, max(1, round(len(qs) * holdout))) if len(qs) > 1 else 0
        held += [(eid, q) for q in qs[:n_out]]
        kept[eid] = qs[n_out:]
    rng.shuffle(held)
    return kept, held[:max_heldout]


def prior_weights(n_questions: int, n_negatives: int, offdomain_prior: float) -> list[float]:
    """Sample weights that make the off-domain utterances ``offdomain_prior`` of the total:
    the calibrated probability then holds for a stream in which that share of what callers
    say has no answer in the KB (on a real call, most customer turns are not questions)."""
    if not n_negatives or not n_questions:
        return [1.0] * (n_questions + n_negatives)
    wq = (1.0 - offdomain_prior) / n_questions
    wn = offdomain_prior / n_negatives
    return [wq] * n_questions + [wn] * n_negatives


def examples(rank: Ranker, held: list[tuple[str, str]], negatives: Sequence[str],
             same_answer: Callable[[str, str], bool]) -> tuple[list[list[float]], list[int]]:
    feats: list[list[float]] = []
    labels: list[int] = []
    for eid, q in held:
        ids, f = rank(q)
        feats.append(f)
        labels.append(int(bool(ids) and same_answer(ids[0], eid)))
    for q in negatives:
        feats.append(rank(q)[1])
        labels.append(0)
    return feats, labels
