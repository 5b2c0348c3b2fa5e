"""The shipped Whisper-base encoder on short windows: shapes, no 30 s padding, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from models.emotion.training import embeddings as E

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return E.WhisperEncoder(tmp_path_factory.mktemp("whisper")).load()


def test_a_3s_window_is_encoded_without_padding_to_30s(encoder):
    y = (0.05 * np.random.default_rng(1).standard_normal(3 * E.SAMPLE_RATE)).astype(np.float32)
    st = encoder.states(y)
    assert st.shape == (150, 512)  # 300 mel frames -> 150 states; 30 s would be 1500
    v = encoder.embed(y, "meanstd")
    assert v.shape == (1024,) and np.isfinite(v).all()
    assert np.allclose(v, encoder.embed(y, "meanstd"))


def test_short_audio_is_padded_to_one_second(encoder):
    st = encoder.states(np.zeros(E.SAMPLE_RATE // 4, np.float32))
    assert st.shape == (50, 512)
