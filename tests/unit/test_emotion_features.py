"""Prosody features: the definition shared by training and inference."""

from __future__ import annotations

import numpy as np
import pytest

from models.emotion import features as F

pytestmark = pytest.mark.unit


def _voice(f0: float, seconds: float = 2.0, sr: int = 16000, level: float = 0.3) -> np.ndarray:
    """A vowel-like harmonic tone (20 harmonics, falling spectrum) with syllable-rate bursts."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 21) if f0 * k < sr / 2)
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * t)  # 4 "syllables" per second
    return (level * env * y / np.max(np.abs(y))).astype(np.float32)


def _st(hz: float) -> float:
    return 12 * np.log2(hz / 100.0)


def test_names_match_the_vector() -> None:
    w = F.extract(_voice(150), 16000)
    assert w.vector is not None and w.vector.shape == (F.N_FEATURES,) == (len(F.FEATURE_NAMES),)
    assert np.all(np.isfinite(w.vector))


@pytest.mark.parametrize("f0", [110.0, 150.0, 220.0])
def test_pitch_is_found_on_wideband_and_on_telephone_audio(f0: float) -> None:
    # on the phone the fundamental is below the 300 Hz band edge: pitch must come from harmonics
    y = _voice(f0)
    clean = F.extract(y, 16000)
    tel = F.extract(*F.telephone(y, 16000))
    i = F.FEATURE_NAMES.index("f0_p50")
    for w in (clean, tel):
        assert w.vector is not None
        assert w.vector[i] == pytest.approx(_st(f0), abs=0.5)
        assert w.voiced_s > 1.0


def test_silence_and_noise_make_no_features() -> None:
    rng = np.random.default_rng(0)
    for y in (np.zeros(16000 * 3, np.float32), (0.01 * rng.standard_normal(16000 * 3)).astype(np.float32)):
        w = F.extract(y, 16000)
        assert w.vector is None
        assert w.voiced_s < F.MIN_VOICED_S


def test_too_short_input_makes_no_features() -> None:
    assert F.extract(np.zeros(100, np.float32), 8000).vector is None


def test_level_features_follow_gain_and_shape_features_do_not() -> None:
    y = _voice(150)
    a, b = F.extract(y, 16000), F.extract(y * 0.25, 16000)
    assert a.vector is not None and b.vector is not None
    e = F.FEATURE_NAMES.index("e_mean")
    assert a.vector[e] - b.vector[e] == pytest.approx(20 * np.log10(4), abs=0.5)
    for name in ("f0_mean", "centroid_mean", "mfcc2_mean", "alpha_mean"):
        i = F.FEATURE_NAMES.index(name)
        assert a.vector[i] == pytest.approx(b.vector[i], abs=0.05 * max(1.0, abs(float(a.vector[i]))))


def test_telephone_degradation_is_8k_mulaw_band_limited() -> None:
    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    out, sr = F.telephone(y, 16000)
    assert sr == 8000 and out.size == 8000
    spec = np.abs(np.fft.rfft(out)) ** 2
    freqs = np.fft.rfftfreq(out.size, 1 / sr)
    in_band = spec[(freqs > 500) & (freqs < 3000)].mean()
    assert spec[freqs < 100].mean() < in_band / 100  # low end removed
    assert len(np.unique(np.round(out * 32768))) <= 256  # µ-law: at most 256 levels


def test_canonical_band_makes_8k_and_16k_input_agree() -> None:
    y16 = _voice(180)
    import soxr

    y8 = soxr.resample(y16, 16000, 8000)
    a, b = F.extract(y16, 16000), F.extract(y8, 8000)
    assert a.vector is not None and b.vector is not None
    np.testing.assert_allclose(a.vector, b.vector, rtol=0.1, atol=0.3)


def test_window_bounds() -> None:
    assert F.window_bounds(8000 * 5, 8000) == [(0, 8000), (0, 16000), (0, 24000), (8000, 32000), (16000, 40000)]
    # a trailing half hop gets its own window; a shorter tail does not
    assert F.window_bounds(8000 * 2 + 4000, 8000)[-1] == (0, 20000)
    assert F.window_bounds(8000 * 2 + 3000, 8000)[-1] == (0, 16000)


def test_stereo_input_is_refused() -> None:
    with pytest.raises(ValueError):
        F.extract(np.zeros((2, 8000), np.float32), 8000)
