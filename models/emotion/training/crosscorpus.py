"""Cross-corpus training and validation of the two voice signals (arousal, agitated).

Every number this module reports comes from a corpus that took no part in any choice: for
each held-out corpus the model family, its regularisation and the decision threshold are
chosen by speaker-grouped cross-validation *inside the training corpora only* (nested), the
population statistics (the "no baseline yet" prior) come from the training corpora only,
and the test corpus is scored once per condition (clean / telephone band) and per opening
(``calm``: a per-speaker baseline from that speaker's calm clips; ``none``: population
statistics only, the first seconds of a call).  With two corpora, pooled
leave-one-corpus-out equals the two directions; with more it trains on all the others.

Targets (labels are the corpora's own; other labels are left out of that target):
- ``agitated``: angry vs neutral/calm/sad/happy;
- ``arousal``: angry/happy/fear/surprise (activated) vs neutral/calm/sad (calm); disgust is
  ambiguous in arousal and left out.

The model is trained on three normalisations of every window at once (calm-opening
baseline, mixed-emotion baseline, population-only), so one model and one threshold serve a
call before and after the caller's own baseline is trustworthy.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.emotion.training.corpus import CorpusFeatures
from models.emotion.training.evaluation import speaker_normalised
from models.emotion.training.metrics import binary_auc, scores

log = logging.getLogger(__name__)

TARGETS = ("arousal", "agitated")
AGITATED_POS = frozenset({"angry"})
AGITATED_NEG = frozenset({"neutral", "calm", "sad", "happy"})
AROUSAL_POS = frozenset({"angry", "happy", "fear", "fearful", "surprise", "surprised"})
AROUSAL_NEG = frozenset({"neutral", "calm", "sad"})
OPENINGS = ("calm", "none")  # what every held-out corpus is scored with
# what every training window is normalised with: a calm opening, a mixed one (real callers'
# own voices vary far more than an actor's neutral takes) and none (the first seconds)
TRAIN_OPENINGS = ("calm", "mixed", "none")
# model families and their regularisation grids (chosen per target by the inner CV)
GRID: tuple[tuple[str, float], ...] = (("lr", 0.01), ("lr", 0.1), ("lr", 1.0), ("svm", 0.3), ("svm", 1.0), ("svm", 3.0))
SVM_MAX_WINDOWS = 5000  # RBF-SVM fit cost grows ~quadratically: a seeded subsample
INNER_FOLDS = 3


def target_of(label: str, target: str) -> int | None:
    """1 / 0 for a label in the target's positive / negative set, None when it is left out."""
    pos, neg = (AROUSAL_POS, AROUSAL_NEG) if target == "arousal" else (AGITATED_POS, AGITATED_NEG)
    return 1 if label in pos else 0 if label in neg else None


@dataclass
class Corpus:
    name: str
    cf: dict[str, CorpusFeatures]  # condition -> window features

    def speakers(self) -> list[str]:
        return sorted({c.speaker for c in next(iter(self.cf.values())).clips})


@dataclass
class Baseline:
    pop_mean: np.ndarray
    pop_std: np.ndarray
    prior_weight: float = 2.0
    max_windows: int = 30


def make_classifier(family: str, c: float, seed: int = 0, probability: bool = True) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if family == "lr":
        return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, class_weight="balanced"))
    if family == "svm":
        return make_pipeline(
            StandardScaler(), SVC(C=c, kernel="rbf", gamma="scale", class_weight="balanced", probability=probability, random_state=seed)
        )
    raise ValueError(f"unknown model family {family!r}")


def _windows(
    corpora: list[Corpus], base: Baseline, target: str, openings: tuple[str, ...], seed: int, speakers: set[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(z, y, group) of every labelled window of the corpora, each normalisation stacked."""
    zs, ys, gs = [], [], []
    for corpus in corpora:
        for ci, (_cond, cf) in enumerate(sorted(corpus.cf.items())):
            y_clip = np.array([target_of(c.label, target) if c.label else None for c in cf.clips], dtype=object)
            spk_clip = np.array([f"{corpus.name}/{c.speaker}" for c in cf.clips])
            y_win, spk_win = y_clip[cf.clip], spk_clip[cf.clip]
            keep = np.array([v is not None for v in y_win], dtype=bool)
            if speakers is not None:
                keep &= np.isin(spk_win, sorted(speakers))
            for oi, opening in enumerate(openings):
                z = speaker_normalised(cf, base.pop_mean, base.pop_std, base.prior_weight, base.max_windows, seed + 10 * ci + oi, opening)
                zs.append(z[keep])
                ys.append(y_win[keep].astype(np.int64))
                gs.append(spk_win[keep])
    return np.concatenate(zs), np.concatenate(ys), np.concatenate(gs)


def fit(family: str, c: float, z: np.ndarray, y: np.ndarray, seed: int, probability: bool = True) -> Any:
    if family == "svm" and len(y) > SVM_MAX_WINDOWS:
        idx = np.random.default_rng(seed).choice(len(y), SVM_MAX_WINDOWS, replace=False)
        z, y = z[idx], y[idx]
    with warnings.catch_warnings():
        # sklearn 1.9 deprecates SVC(probability=True); skl2onnx converts it, a calibrated wrapper it does not
        warnings.simplefilter("ignore", FutureWarning)
        return make_classifier(family, c, seed, probability).fit(z, y)


def _score(model: Any, z: np.ndarray) -> np.ndarray:
    if hasattr(model, "predict_proba") and getattr(model.steps[-1][1], "probability", True):
        return model.predict_proba(z)[:, 1]
    return model.decision_function(z)


def clip_scores(model: Any, corpus: Corpus, cond: str, base: Baseline, target: str, opening: str, seed: int):
    """(clip truth 0/1, clip score = mean of its windows') for one corpus/condition/opening."""
    cf = corpus.cf[cond]
    z = speaker_normalised(cf, base.pop_mean, base.pop_std, base.prior_weight, base.max_windows, seed, opening)
    s = _score(model, z) if len(z) else np.zeros(0)
    truth, out = [], []
    for i in np.unique(cf.clip):
        t = target_of(cf.clips[i].label, target)
        if t is None:
            continue
        truth.append(t)
        out.append(float(s[cf.clip == i].mean()))
    return np.asarray(truth, dtype=np.int64), np.asarray(out)


def binary_report(truth: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, Any]:
    names = ["pos" if t else "neg" for t in truth]
    pred = ["pos" if s >= threshold else "neg" for s in score]
    r = scores(names, pred, ["pos", "neg"])
    return {"n": int(len(truth)), "auc": binary_auc(truth.astype(bool), score), "uar": r["uar"], "accuracy": r["accuracy"]}


def best_threshold(truth: np.ndarray, score: np.ndarray) -> float:
    grid = np.round(np.arange(0.025, 0.951, 0.025), 3)
    uars = [binary_report(truth, score, float(t))["uar"] for t in grid]
    return float(grid[int(np.argmax(uars))])


def population(corpora: list[Corpus]) -> Baseline:
    pool = np.concatenate([cf.X for c in corpora for cf in c.cf.values()])
    return Baseline(pool.mean(axis=0), pool.std(axis=0) + 1e-6)


def choose(corpora: list[Corpus], base: Baseline, target: str, seed: int) -> dict[str, Any]:
    """Nested step: family, C and threshold by speaker-grouped CV inside ``corpora`` only."""
    groups = sorted({f"{c.name}/{s}" for c in corpora for s in c.speakers()})
    folds = [set(groups[i::INNER_FOLDS]) for i in range(INNER_FOLDS)]
    z, y, g = _windows(corpora, base, target, TRAIN_OPENINGS, seed)
    results: dict[str, float] = {}
    for family, c in GRID:
        aucs = []
        for held in folds:
            tr, te = ~np.isin(g, sorted(held)), np.isin(g, sorted(held))
            m = fit(family, c, z[tr], y[tr], seed, probability=False)
            s = m.decision_function(z[te])
            aucs.append(binary_auc(y[te].astype(bool), s))  # window-level AUC: cheap and rank-only
        results[f"{family}:{c}"] = float(np.mean(aucs))
        log.info("inner CV %s %s C=%g: window AUC %.3f", target, family, c, results[f"{family}:{c}"])
    key = max(results, key=lambda k: results[k])
    family, c_str = key.split(":")
    # threshold on clip-mean probabilities of the chosen configuration, inner folds again
    truths, probs = [], []
    for held in folds:
        tr = ~np.isin(g, sorted(held))
        m = fit(family, float(c_str), z[tr], y[tr], seed)
        for corpus in corpora:
            sub = Corpus(corpus.name, {k: _subset(cf, corpus.name, held) for k, cf in corpus.cf.items()})
            for cond in sub.cf:
                for opening in OPENINGS:
                    t, s = clip_scores(m, sub, cond, base, target, opening, seed)
                    truths.append(t)
                    probs.append(s)
    thr = best_threshold(np.concatenate(truths), np.concatenate(probs))
    return {"family": family, "C": float(c_str), "threshold": thr, "inner_cv_window_auc": results}


def _subset(cf: CorpusFeatures, name: str, speakers: set[str]) -> CorpusFeatures:
    """The windows of ``cf`` whose speaker (as ``name/speaker``) is in ``speakers``."""
    keep_clip = np.array([f"{name}/{c.speaker}" in speakers for c in cf.clips])
    new_index = np.cumsum(keep_clip) - 1
    w = keep_clip[cf.clip] if cf.clip.size else np.zeros(0, bool)
    clips = [c for c, k in zip(cf.clips, keep_clip, strict=True) if k]
    return CorpusFeatures(cf.X[w], new_index[cf.clip[w]], clips, cf.condition)


def train_target(corpora: list[Corpus], target: str, seed: int) -> tuple[Any, dict[str, Any], Baseline]:
    base = population(corpora)
    choice = choose(corpora, base, target, seed)
    z, y, _ = _windows(corpora, base, target, TRAIN_OPENINGS, seed)
    return fit(choice["family"], choice["C"], z, y, seed), choice, base


def cross_corpus(corpora: list[Corpus], seed: int = 0) -> list[dict[str, Any]]:
    """Leave-one-corpus-out: every row is a corpus no choice was made on."""
    rows: list[dict[str, Any]] = []
    for test in corpora:
        train = [c for c in corpora if c is not test]
        for target in TARGETS:
            model, choice, base = train_target(train, target, seed)
            for cond in sorted(test.cf):
                for opening in OPENINGS:
                    t, s = clip_scores(model, test, cond, base, target, opening, seed)
                    r = binary_report(t, s, choice["threshold"])
                    rows.append(
                        {"train": "+".join(c.name for c in train), "test": test.name, "target": target,
                         "condition": cond, "opening": opening, **r,
                         "model": f"{choice['family']} C={choice['C']:g}", "threshold": choice["threshold"]}
                    )  # fmt: skip
                    log.info("%s -> %s %s %s %s: AUC %.3f UAR %.3f", rows[-1]["train"], test.name, target, cond, opening, r["auc"], r["uar"])
    return rows
