"""Clip-level evaluation shared by the training script and `callassist emotion evaluate`.

A clip's prediction is the mean of its voiced windows' probabilities.  Each speaker's
windows are normalised with a baseline built from a seeded random sample of that speaker's
windows in the same condition (up to ``max_windows``), standing in for the opening of a call
from which the live worker learns the caller's normal voice:

- ``calm`` opening: the sample is drawn from the speaker's neutral/calm clips (the design
  assumption: people usually open a call in their normal voice).  Training uses this.
- ``mixed`` opening: drawn from all the speaker's clips, every emotion mixed — what happens
  when a caller is already upset from the first second (a robustness check).
- ``none``: population statistics only (the very first windows of a call).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from models.emotion.baseline import normalize_batch
from models.emotion.training.corpus import CorpusFeatures
from models.emotion.training.dataset import AGITATED, CLASSES
from models.emotion.training.metrics import binary_auc, scores

OPENINGS = ("calm", "mixed", "none")
CALM_LABELS = ("neutral", "calm")


def speaker_normalised(
    cf: CorpusFeatures,
    pop_mean: np.ndarray,
    pop_std: np.ndarray,
    prior_weight: float,
    max_windows: int,
    seed: int,
    opening: str = "calm",
) -> np.ndarray:
    if opening not in OPENINGS:
        raise ValueError(f"opening must be one of {OPENINGS}, got {opening!r}")
    if opening == "none":
        return ((cf.X - pop_mean) / pop_std).astype(np.float32)
    rng = np.random.default_rng(seed)
    speakers = np.array([c.speaker for c in cf.clips])[cf.clip] if cf.clip.size else np.array([], dtype=str)
    calm = np.array([c.label in CALM_LABELS for c in cf.clips])[cf.clip] if cf.clip.size else np.array([], bool)
    z = np.empty_like(cf.X)
    for sp in sorted(set(speakers.tolist())):
        idx = np.flatnonzero(speakers == sp)
        cand = idx[calm[idx]] if opening == "calm" else idx
        if cand.size == 0:  # a speaker without calm clips: fall back to all of theirs
            cand = idx
        pool = cf.X[rng.choice(cand, size=min(max_windows, cand.size), replace=False)]
        z[idx] = normalize_batch(cf.X[idx], pool, pop_mean, pop_std, prior_weight)
    return z


def clip_probs(cf: CorpusFeatures, z: np.ndarray, predict: Callable[[np.ndarray], np.ndarray], keep: np.ndarray):
    """(clip indices, probs[n_clips, 4]) for windows selected by the boolean mask ``keep``."""
    p = predict(z[keep]) if keep.any() else np.zeros((0, len(CLASSES)))
    owners = cf.clip[keep]
    uniq = np.unique(owners)
    return uniq, np.stack([p[owners == u].mean(axis=0) for u in uniq]) if uniq.size else np.zeros((0, len(CLASSES)))


def report(labels: list[str], probs: np.ndarray, threshold: float) -> dict[str, object]:
    """4-class and agitated-vs-not scores for clips with a trained class label."""
    pred = [CLASSES[i] for i in probs.argmax(axis=1)]
    agitated = [lab == AGITATED for lab in labels]
    p_ag = probs[:, CLASSES.index(AGITATED)]
    binary = scores(
        ["agitated" if a else "not" for a in agitated],
        ["agitated" if p >= threshold else "not" for p in p_ag],
        ["agitated", "not"],
    )
    binary["auc"] = binary_auc(agitated, p_ag)
    return {"four_class": scores(labels, pred, CLASSES), "agitated": binary}


def best_threshold(labels: list[str], probs: np.ndarray) -> float:
    """Threshold on p(angry) with the best agitated-vs-not UAR (chosen on training folds only)."""
    grid = np.round(np.arange(0.15, 0.71, 0.05), 2)
    uars = [report(labels, probs, float(t))["agitated"]["uar"] for t in grid]  # type: ignore[index]
    return float(grid[int(np.argmax(uars))])
