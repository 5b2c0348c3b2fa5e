"""Steady on the panel: the real exported model on real audio through the live engine path.

Targets (issue 14): on calm real recordings at most one state change per minute and
"agitated" at most 5 % of the time; on an acted escalation (calm then angry clips of one
speaker) the state turns within 3 s of the first angry clip.  Recordings where the target is
not met today are strict xfails carrying the measured figures: they fail loudly once the
model gets good enough, so the numbers here cannot silently go stale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.emotion_steadiness import Steadiness, escalation_latency, measure, run_channel
from models.emotion.model import EmotionModel
from models.emotion.training.corpus import load_audio
from pipeline.emotion.offline import read_channels

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return EmotionModel().load()


def _file(model: EmotionModel, path: Path, channel: str) -> Steadiness:
    channels, sr = read_channels(path, "customer")
    y = channels[channel]
    return measure(path.name, run_channel(model, y, sr, path.stem, channel), y.size / sr)


def _magicdata(model: EmotionModel, shared_data: Path, domain: str) -> Steadiness:
    files = sorted((shared_data / "speech" / "zh_magicdata").glob(f"{domain}_*.flac"))
    if not files:
        pytest.skip("zh_magicdata not found")
    clips = [load_audio(f) for f in files]
    sr = clips[0][1]
    gap = np.zeros(sr // 2, np.float32)  # half a second between sentences, like turns in a call
    y = np.concatenate([np.concatenate([c, gap]) for c, _ in clips])
    return measure(domain, run_channel(model, y, sr, domain, "customer"), y.size / sr)


def _steady(s: Steadiness) -> None:
    assert s.windows > 0
    assert s.changes <= max(1, int(s.seconds // 60)), s
    assert s.agitated_share <= 0.05, s


BUNDLED_MISS = "measured 2026-12: caller 22 % agitated, 5 changes in 245 s; agent 47 %, 7 changes (real 8 kHz call)"


@pytest.mark.parametrize(
    ("rel", "channel"),
    [
        ("speech/en_8k_ivr_basic-pbx-ivr-main.wav", "customer"),
        ("speech/en_jfk.flac", "customer"),
        ("speech/zh_azure_zhcn_continuous_mode_sample.wav", "customer"),
        ("speech/zh_wenetspeech_meeting_T0000000001.wav", "customer"),
        ("speech/en_stereo_2spk_diarization.wav", "agent"),
        pytest.param("calls/auto_repairs_40_caller.wav", "customer", marks=pytest.mark.xfail(strict=True, reason=BUNDLED_MISS)),
        pytest.param("calls/auto_repairs_40_agent.wav", "customer", marks=pytest.mark.xfail(strict=True, reason=BUNDLED_MISS)),
    ],
)
def test_calm_real_recordings_are_steady(model: EmotionModel, shared_data: Path, rel: str, channel: str) -> None:
    _steady(_file(model, shared_data / rel, channel))


@pytest.mark.parametrize(
    "domain",
    [
        "general",
        "tourism",
        pytest.param("education", marks=pytest.mark.xfail(strict=True, reason="measured 2026-12: 40 % agitated, 19 changes in 290 s")),
    ],
)
def test_mandarin_customer_service_sentences_are_steady(model: EmotionModel, shared_data: Path, domain: str) -> None:
    _steady(_magicdata(model, shared_data, domain))


def _escalation(model: EmotionModel, shared_data: Path, actor: str) -> tuple[float | None, int]:
    rav = shared_data / "emotion" / "ravdess" / f"Actor_{actor}"
    calm = sorted(rav.glob("03-01-0[12]-*.flac"))[:10]
    angry = sorted(rav.glob("03-01-05-*.flac"))[:6]
    clips = [load_audio(p) for p in calm + angry]
    sr = clips[0][1]
    onset = sum(c.size for c, _ in clips[: len(calm)]) / sr
    readings = run_channel(model, np.concatenate([c for c, _ in clips]), sr, f"esc{actor}", "customer")
    false_alarms = sum(r.state == "agitated" for r in readings if r.end <= onset)
    return escalation_latency(readings, onset), false_alarms


@pytest.mark.parametrize("actor", ["01", "08", "13", "20", "24"])
def test_acted_escalation_turns_the_state_and_calm_opening_does_not(model: EmotionModel, shared_data: Path, actor: str) -> None:
    # RAVDESS actors are in the shipped model's training data: this checks the live path
    # (baseline gating, smoothing, hysteresis), not generalisation
    latency, false_alarms = _escalation(model, shared_data, actor)
    assert false_alarms == 0
    assert latency is not None and latency <= 10.0  # measured 3.5-8.1 s over these five actors


@pytest.mark.xfail(strict=True, reason="measured 2026-12: 3.5-3.6 s after the first angry clip (its lead-in silence included)")
def test_acted_escalation_turns_within_three_seconds(model: EmotionModel, shared_data: Path) -> None:
    latency, _ = _escalation(model, shared_data, "13")
    assert latency is not None and latency <= 3.0
