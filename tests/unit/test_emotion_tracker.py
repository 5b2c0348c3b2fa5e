"""Windowing, smoothing/hysteresis and agent hints of the emotion worker (pure logic)."""

from __future__ import annotations

import numpy as np
import pytest

from models.emotion.features import window_bounds
from pipeline.emotion.tracker import AgentHints, HintConfig, StateConfig, StateTracker, Windower

pytestmark = pytest.mark.unit

SR = 8000


@pytest.mark.parametrize("n_samples", [SR * 7, SR * 7 + 4100, SR * 7 + 3000, 2500, SR * 3 + 1])
def test_streaming_windows_equal_offline_windows(n_samples: int) -> None:
    # the live worker and training/offline scoring must cut identical windows
    rng = np.random.default_rng(n_samples)
    y = rng.standard_normal(n_samples).astype(np.float32)
    w = Windower(SR, 3.0, 1.0)
    got = []
    i = 0
    while i < y.size:
        n = int(rng.integers(1, 4000))
        got += w.push(y[i : i + n], start=i / SR if i == 0 else None)
        i += n
    got += w.flush()
    want = window_bounds(n_samples, SR)
    assert [(round(g.start * SR), round(g.end * SR)) for g in got] == want
    for g, (a, b) in zip(got, want, strict=True):
        np.testing.assert_array_equal(g.samples, y[a:b])


def test_window_index_and_origin_follow_call_time() -> None:
    w = Windower(SR, 3.0, 1.0)
    out = w.push(np.zeros(SR * 2, np.float32), start=10.0)
    assert [(o.index, o.start, o.end) for o in out] == [(1, 10.0, 11.0), (2, 10.0, 12.0)]


def test_short_gap_is_filled_with_silence_and_long_gap_restarts() -> None:
    w = Windower(SR, 3.0, 1.0)
    w.push(np.ones(SR // 2, np.float32), start=0.0)
    out = w.push(np.ones(SR, np.float32), start=1.0)  # 0.5 s lost
    assert out[0].end == pytest.approx(1.0)
    assert np.all(out[0].samples[SR // 2 :] == 0.0)  # the missing half second is silence
    assert w.time == pytest.approx(2.0)
    out = w.push(np.ones(SR, np.float32), start=60.0)  # an outage: grid restarts at 60 s
    assert [(o.start, o.end) for o in out] == [(60.0, 61.0)]


def test_windower_rejects_bad_geometry() -> None:
    with pytest.raises(ValueError):
        Windower(SR, 1.0, 2.0)


def test_memory_is_bounded_by_one_window() -> None:
    w = Windower(SR, 3.0, 1.0)
    for _ in range(50):
        w.push(np.zeros(SR, np.float32))
    assert w._buf.size <= 3 * SR


def test_state_needs_consecutive_windows_and_does_not_flicker() -> None:
    t = StateTracker(StateConfig(alpha=1.0, enter=0.6, exit=0.4, min_windows=2, exit_windows=2))
    assert t.update(0.9, 0.9).state == "neutral"  # one window is not enough
    upd = t.update(0.9, 0.9)
    assert upd.state == "agitated" and upd.changed
    # a single calmer window between agitated ones does not drop the state (exit < enter)
    assert t.update(0.5, 0.3).state == "agitated"
    assert t.update(0.9, 0.8).state == "agitated"
    assert t.update(0.5, 0.5).state == "agitated"  # between exit and enter: stays
    # sustained calm leaves
    t.update(0.1, 0.1)
    upd = t.update(0.1, 0.1)
    assert upd.state == "neutral" and upd.changed


def test_alternating_evidence_never_changes_state() -> None:
    t = StateTracker(StateConfig(alpha=1.0, min_windows=2))
    states = [t.update(0.9, 0.9 if i % 2 else 0.1).state for i in range(20)]
    assert set(states) == {"neutral"}


def test_smoothing_is_an_ema_of_both_signals() -> None:
    t = StateTracker(StateConfig(alpha=0.5))
    t.update(0.0, 0.0)
    upd = t.update(1.0, 0.6)
    assert upd.arousal == pytest.approx(0.5)
    assert upd.agitated == pytest.approx(0.3)


def test_high_arousal_alone_is_not_agitation() -> None:
    t = StateTracker(StateConfig(alpha=1.0, min_windows=1))
    assert {t.update(0.95, 0.2).state for _ in range(10)} == {"neutral"}


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        StateTracker(StateConfig()).update(1.5, 0.5)
    with pytest.raises(ValueError):
        StateTracker(StateConfig()).update(float("nan"), 0.5)
    with pytest.raises(ValueError):
        StateTracker(StateConfig(enter=0.3, exit=0.5))


def test_agent_hints_are_relative_to_own_baseline_and_persist() -> None:
    h = AgentHints(HintConfig(baseline_windows=5, persist=2, fast_abs=4.0))
    for _ in range(5):
        assert h.update(4.0, -30.0, 3.0) == []
    assert h.update(7.0, -30.0, 3.0) == []  # one fast window: not yet
    assert h.update(7.0, -20.0, 3.0) == ["speaking_fast"]
    assert h.update(7.0, -20.0, 3.0) == ["speaking_fast", "too_loud"]
    assert h.update(4.0, -30.0, 0.5) == []
    assert h.update(4.0, -30.0, 0.5) == ["flat_tone"]
    assert h.update(4.0, -30.0, float("nan")) == []  # no pitch: no flat claim
