"""Scores used in the model card and `callassist emotion evaluate`."""

from __future__ import annotations

import pytest

from models.emotion.training.metrics import binary_auc, scores

pytestmark = pytest.mark.unit


def test_uar_is_the_mean_of_per_class_recall() -> None:
    y = ["a", "a", "a", "a", "b"]
    p = ["a", "a", "a", "a", "a"]
    s = scores(y, p, ["a", "b"])
    assert s["accuracy"] == pytest.approx(0.8)
    assert s["uar"] == pytest.approx(0.5)  # majority guessing is not rewarded
    assert s["confusion"] == [[4, 0], [1, 0]]


def test_absent_classes_do_not_count_in_uar() -> None:
    s = scores(["a", "b"], ["a", "b"], ["a", "b", "c"])
    assert s["uar"] == pytest.approx(1.0)
    assert s["recall"]["c"] is None


def test_empty_input_is_an_error() -> None:
    with pytest.raises(ValueError):
        scores([], [], ["a"])


def test_auc() -> None:
    assert binary_auc([True, False], [0.9, 0.1]) == pytest.approx(1.0)
    assert binary_auc([True, False], [0.1, 0.9]) == pytest.approx(0.0)
    assert binary_auc([True, False, True, False], [0.5, 0.5, 0.5, 0.5]) == pytest.approx(0.5)
