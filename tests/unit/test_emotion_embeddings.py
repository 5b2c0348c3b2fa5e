"""Pooling of Whisper encoder states into emotion features (pure parts; the model is in integration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.emotion.training import embeddings as E
from models.emotion.training.dataset import Clip
from models.emotion.training.embedding_corpus import CorpusEmbeddings

pytestmark = pytest.mark.unit


def test_mean_pooling_uses_only_the_masked_states():
    states = np.array([[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], np.float32)
    mask = np.array([True, True, False])
    assert E.pool_states(states, mask, "mean").tolist() == [2.0, 3.0]
    ms = E.pool_states(states, mask, "meanstd")
    assert ms.shape == (4,) and ms[2:].tolist() == [1.0, 1.0]
    assert E.pooled_dim(512, "meanstd") == ms.shape[0] * 256


def test_pooling_with_an_empty_mask_describes_every_state():
    states = np.arange(6, dtype=np.float32).reshape(3, 2)
    assert E.pool_states(states, np.zeros(3, bool)).tolist() == [2.0, 3.0]


def test_pooling_refuses_mismatched_shapes_and_unknown_modes():
    with pytest.raises(ValueError):
        E.pool_states(np.zeros((3, 2)), np.ones(4, bool))
    with pytest.raises(ValueError):
        E.pool_states(np.zeros((3, 2)), np.ones(3, bool), "max")


def test_voiced_mask_drops_silence_and_keeps_speech_steps():
    sr = E.SAMPLE_RATE
    rng = np.random.default_rng(0)
    y = np.concatenate([np.zeros(sr // 2), 0.1 * rng.standard_normal(sr // 2)]).astype(np.float32)
    mask = E.voiced_state_mask(y, 50)  # 1 s = 50 states of 20 ms
    assert mask.shape == (50,)
    assert not mask[:25].any() and mask[25:].all()


def test_voiced_mask_of_pure_silence_keeps_everything_and_pads_short_audio():
    assert E.voiced_state_mask(np.zeros(E.SAMPLE_RATE, np.float32), 50).all()
    short = E.voiced_state_mask(0.1 * np.ones(E.STATE_SAMPLES * 3, np.float32), 5)
    assert short.tolist() == [True, True, True, False, False]


def _emb() -> CorpusEmbeddings:
    clips = [Clip(path=Path(f"c{i}.wav"), label="angry", speaker="s") for i in range(2)]
    hand = np.ones((3, 51), np.float32)
    window = np.hstack([np.full((3, 4), 2.0), np.full((3, 4), 3.0)]).astype(np.float32)
    return CorpusEmbeddings(hand, window, np.array([0, 0, 1]), window[:2], np.array([0, 1]), clips, "clean")


def test_feature_sets_select_the_right_columns_and_rows():
    e = _emb()
    assert e.features("whisper", "mean").X.shape == (3, 4)
    assert np.all(e.features("whisper", "mean").X == 2.0)
    assert e.features("whisper", "meanstd").X.shape == (3, 8)
    both = e.features("whisper+prosody", "mean")
    assert both.X.shape == (3, 55) and np.all(both.X[:, :51] == 1.0)
    whole = e.features("whisper-clip", "mean")
    assert whole.X.shape == (2, 4) and whole.clip.tolist() == [0, 1]
    assert e.features("prosody", "mean").X.shape == (3, 51)
    with pytest.raises(ValueError):
        e.features("mfcc", "mean")


def test_compare_puts_runs_side_by_side_and_marks_missing_rows(tmp_path):
    import json

    from bench.emotion_embeddings import compare

    row = {"train": "a", "test": "b", "target": "arousal", "condition": "clean", "opening": "none", "auc": 0.9, "uar": 0.8}
    other = dict(row, condition="telephone")
    (tmp_path / "metrics.json").write_text(json.dumps({"cross_corpus": [row, other]}))
    (tmp_path / "w.json").write_text(json.dumps([dict(row, auc=0.6, uar=0.5, features="whisper", pooling="mean")]))
    out = compare([tmp_path / "metrics.json", tmp_path / "w.json"]).splitlines()
    assert "prosody (shipped) AUC / UAR" in out[0] and "whisper (mean) AUC / UAR" in out[0]
    assert out[2].endswith("| 0.900 / 0.800 | 0.600 / 0.500 |")
    assert out[3].endswith("| 0.900 / 0.800 | – |")
