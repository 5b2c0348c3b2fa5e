"""Scores for the emotion model: accuracy, UAR (unweighted average recall), confusion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def confusion(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    idx = {lab: i for i, lab in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        m[idx[t], idx[p]] += 1
    return m


def scores(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, object]:
    """accuracy, UAR (mean of per-class recalls over classes present), per-class recall, confusion."""
    if len(y_true) == 0:
        raise ValueError("no samples to score")
    m = confusion(y_true, y_pred, labels)
    support = m.sum(axis=1)
    present = support > 0
    recall = np.where(present, np.diag(m) / np.maximum(support, 1), np.nan)
    return {
        "n": int(m.sum()),
        "accuracy": float(np.trace(m) / m.sum()),
        "uar": float(np.nanmean(recall[present])),
        "recall": {lab: (None if np.isnan(r) else float(r)) for lab, r in zip(labels, recall, strict=True)},
        "confusion": m.tolist(),
        "labels": list(labels),
    }


def binary_auc(y_true: Sequence[bool] | np.ndarray, score: Sequence[float] | np.ndarray) -> float:
    """ROC AUC via the rank-sum statistic (ties count half)."""
    y = np.asarray(y_true, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(gt / (pos.size * neg.size))
