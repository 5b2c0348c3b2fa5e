"""The call summary's emotion arc on real audio: the real exported model, the live engine path,
the streams worker's call state and the summary (``bench.emotion_arc_audio``).

RAVDESS is in the shipped model's training data: these check the path, not generalisation.
What does not come out right today is a strict xfail carrying the measured result, so it fails
loudly once it does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.emotion_arc_audio import SAMPLE_TRANSCRIPT, acted_plans, arc_of_readings, join_clips
from bench.emotion_steadiness import run_channel
from models.emotion.model import EmotionModel
from streams.assist.assistant import Assistant

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return EmotionModel().load()


@pytest.fixture(scope="module")
def assistant() -> Assistant:
    return Assistant.from_files()


def _arc(model: EmotionModel, assistant: Assistant, files: list[Path], transcript: list[dict] | None = None) -> dict:
    y, sr = join_clips(files, "clean")
    return arc_of_readings(assistant, "arc", run_channel(model, y, sr, "arc", "customer"), transcript)


def _acted(shared_data: Path, actor: str) -> dict[str, list[Path]]:
    d = shared_data / "emotion" / "ravdess" / f"Actor_{actor}"
    calm, angry = sorted(d.glob("03-01-0[12]-*.flac")), sorted(d.glob("03-01-05-*.flac"))
    if not calm or not angry:
        pytest.skip("RAVDESS not found")
    return dict(acted_plans(calm, angry))


@pytest.mark.parametrize(("acted", "actor"), [
    ("calm", "01"), ("escalating", "01"), ("de_escalated", "01"), ("upset_throughout", "01"), ("escalating", "13"),
    # measured 2026-12-03: an angry opening turns the stable state too late for the first third
    pytest.param("de_escalated", "13", marks=pytest.mark.xfail(strict=True, reason="measured 2026-12-03: calm")),
    pytest.param("upset_throughout", "13", marks=pytest.mark.xfail(strict=True, reason="measured 2026-12-03: escalating")),
])
def test_acted_arcs(model: EmotionModel, assistant: Assistant, shared_data: Path, acted: str, actor: str) -> None:
    e = _arc(model, assistant, _acted(shared_data, actor)[acted])
    assert e["arc"] == acted, e
    assert e["evidence"] == "voice"


def test_calm_mandarin_sentences_are_calm(model: EmotionModel, assistant: Assistant, shared_data: Path) -> None:
    files = sorted((shared_data / "speech" / "zh_magicdata").glob("general_*.flac"))
    if not files:
        pytest.skip("zh_magicdata not found")
    assert _arc(model, assistant, files)["arc"] == "calm"


@pytest.mark.xfail(strict=True, reason="measured 2026-12-03: escalating (the voice model's false agitation on this 8 kHz call)")
def test_the_bundled_calm_call_with_its_transcript_is_calm(model: EmotionModel, assistant: Assistant, shared_data: Path) -> None:
    caller = shared_data / "calls" / "auto_repairs_40_caller.wav"
    if not caller.exists():
        pytest.skip("the bundled call not found")
    lines = [json.loads(x) for x in SAMPLE_TRANSCRIPT.read_text(encoding="utf-8").splitlines() if x.strip()]
    e = _arc(model, assistant, [caller], [x for x in lines if "segment_id" in x and "text" in x])
    assert e["arc"] == "calm", e
