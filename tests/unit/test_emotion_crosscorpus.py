"""Cross-corpus protocol pieces: target sets and the per-speaker subset used by the nested CV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.emotion.training.corpus import CorpusFeatures
from models.emotion.training.crosscorpus import _subset, best_threshold, binary_report, target_of
from models.emotion.training.dataset import Clip

pytestmark = pytest.mark.unit


def test_targets_leave_ambiguous_labels_out() -> None:
    assert target_of("angry", "agitated") == 1
    assert target_of("happy", "agitated") == 0
    assert target_of("fear", "agitated") is None  # not in the trained agitated-vs-not set
    assert target_of("fearful", "arousal") == 1 and target_of("surprise", "arousal") == 1
    assert target_of("sad", "arousal") == 0 and target_of("calm", "arousal") == 0
    assert target_of("disgust", "arousal") is None


def test_subset_keeps_only_the_named_speakers_windows_and_reindexes_clips() -> None:
    clips = [Clip(Path(f"/x/{i}.wav"), "angry", spk) for i, spk in enumerate(["a", "b", "a", "c"])]
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    cf = CorpusFeatures(X, np.array([0, 1, 1, 2, 3, 3]), clips, "clean")
    sub = _subset(cf, "k", {"k/a", "k/c"})
    assert [c.speaker for c in sub.clips] == ["a", "a", "c"]
    assert sub.clip.tolist() == [0, 1, 2, 2]
    assert sub.X[:, 0].tolist() == [0.0, 6.0, 8.0, 10.0]


def test_threshold_and_report_on_a_separable_toy_set() -> None:
    truth = np.array([0, 0, 0, 1, 1])
    score = np.array([0.1, 0.2, 0.3, 0.7, 0.8])
    thr = best_threshold(truth, score)
    assert 0.3 < thr <= 0.7
    r = binary_report(truth, score, thr)
    assert r["auc"] == 1.0 and r["uar"] == 1.0 and r["n"] == 5
