"""Per-speaker baseline normalisation shared by training and the live worker."""

from __future__ import annotations

import numpy as np
import pytest

from models.emotion.baseline import SpeakerBaseline, normalize_batch

pytestmark = pytest.mark.unit


def test_without_windows_it_is_population_standardisation() -> None:
    b = SpeakerBaseline(np.array([1.0, 2.0]), np.array([2.0, 4.0]), prior_weight=2, max_windows=10)
    np.testing.assert_allclose(b.normalize(np.array([3.0, 6.0])), [1.0, 1.0])


def test_shrinks_towards_the_speaker_as_windows_arrive() -> None:
    b = SpeakerBaseline(np.zeros(1), np.ones(1), prior_weight=2, max_windows=100)
    for _ in range(8):
        b.update(np.array([10.0]))
    mean, std = b.stats()
    assert mean[0] == pytest.approx((2 * 0 + 8 * 10) / 10)
    assert std[0] == pytest.approx(np.sqrt((2 * 1 + 8 * 0) / 10))


def test_freezes_after_max_windows() -> None:
    b = SpeakerBaseline(np.zeros(1), np.ones(1), prior_weight=1, max_windows=3)
    for v in (1.0, 1.0, 1.0, 100.0, 100.0):
        b.update(np.array([v]))
    assert b.frozen and b.n == 3
    assert b.stats()[0][0] == pytest.approx(0.75)


def test_gain_change_is_removed_for_level_features() -> None:
    # a caller recorded 12 dB hotter looks the same once their own baseline is known
    rng = np.random.default_rng(0)
    x = rng.normal(-40, 3, size=(30, 1))
    z1 = normalize_batch(x, x, np.array([-40.0]), np.array([3.0]), prior_weight=0.0)
    z2 = normalize_batch(x + 12, x + 12, np.array([-40.0]), np.array([3.0]), prior_weight=0.0)
    np.testing.assert_allclose(z1, z2, atol=1e-4)


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError):
        SpeakerBaseline(np.zeros(2), np.ones(3), 1, 1)
