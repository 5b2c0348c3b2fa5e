"""EmotionEngine with the real exported model: frames in, EmotionReading records out.

No broker here: the engine is the synchronous core the worker runs in its executor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.emotion.model import SIGNALS, EmotionModel
from models.emotion.training.corpus import load_audio
from pipeline.emotion.engine import EmotionEngine, EngineConfig
from streams.contract.audio import AudioFrame
from streams.platform.audio_codec import float_to_pcm16_bytes, pcm16_to_mulaw

pytestmark = pytest.mark.unit

RAVDESS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "emotion" / "ravdess"


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return EmotionModel().load()


def _frames(y: np.ndarray, sr: int, call: str = "c1", channel: str = "customer", mulaw: bool = False) -> list[AudioFrame]:
    n = sr // 5
    out = []
    for k, i in enumerate(range(0, y.size, n)):
        chunk = y[i : i + n]
        if mulaw:
            payload = pcm16_to_mulaw((np.clip(chunk, -1, 1) * 32767).astype(np.int16))
            out.append(AudioFrame(call, channel, k, i / sr, "mulaw", sr, payload))
        else:
            out.append(AudioFrame(call, channel, k, i / sr, "pcm16le", sr, float_to_pcm16_bytes(chunk)))
    return out


def _speech() -> tuple[np.ndarray, int]:
    clips = sorted((RAVDESS / "Actor_01").glob("03-01-05-02-*.flac"))  # strong anger, actor 1
    if not clips:
        pytest.skip("RAVDESS data not found")
    ys = [load_audio(p) for p in clips[:3]]
    return np.concatenate([y for y, _ in ys]), ys[0][1]


def test_speech_gives_one_reading_per_voiced_window(model: EmotionModel) -> None:
    y, sr = _speech()
    engine = EmotionEngine(model, clock=lambda: 0.0)
    readings = engine.process(_frames(y, sr)) + engine.flush_call("c1")
    assert readings
    assert len({r.window_id for r in readings}) == len(readings)
    for r in readings:
        assert r.call_id == "c1" and r.channel == "customer"
        assert list(r.probs) == list(SIGNALS)
        assert all(0.0 <= v <= 1.0 for v in r.probs.values())
        assert r.state in ("neutral", "agitated")
        assert r.window_id.startswith("c1:customer:")
    assert not engine.calls  # flushed calls leave no state


def test_silence_makes_no_claims(model: EmotionModel) -> None:
    engine = EmotionEngine(model, clock=lambda: 0.0)
    quiet = np.random.default_rng(0).normal(0, 1e-3, 8000 * 10).astype(np.float32)
    assert engine.process(_frames(quiet, 8000, mulaw=True)) + engine.flush_call("c1") == []
    assert engine.stats.windows_silent >= 9 and engine.stats.readings == 0


def test_duplicates_are_skipped_and_give_identical_results(model: EmotionModel) -> None:
    y, sr = _speech()
    frames = _frames(y, sr)
    a = EmotionEngine(model, clock=lambda: 0.0)
    ra = a.process(frames) + a.flush_call("c1")
    b = EmotionEngine(model, clock=lambda: 0.0)
    rb = b.process(frames[:20] + frames[:20] + frames[10:]) + b.flush_call("c1")
    assert b.stats.duplicates == 30
    assert [r.window_id for r in ra] == [r.window_id for r in rb]
    assert [r.probs for r in ra] == [r.probs for r in rb]


def test_bad_payload_is_counted_and_skipped(model: EmotionModel) -> None:
    engine = EmotionEngine(model, clock=lambda: 0.0)
    bad = AudioFrame("c1", "customer", 0, 0.0, "pcm16le", 8000, b"\x00\x01\x02")  # odd length
    assert engine.process([bad]) == []
    assert engine.stats.bad_frames == 1


def test_agent_channel_gets_delivery_hints_field(model: EmotionModel) -> None:
    y, sr = _speech()
    engine = EmotionEngine(model, clock=lambda: 0.0)
    readings = engine.process(_frames(y, sr, channel="agent")) + engine.flush_call("c1")
    assert readings and all(isinstance(r.hints, list) for r in readings)
    assert all(r.speaking_rate > 0 and r.loudness_db < 0 for r in readings)


def test_ended_and_idle_calls_are_dropped(model: EmotionModel) -> None:
    now = [0.0]
    engine = EmotionEngine(model, EngineConfig(idle_timeout_s=60, end_grace_s=5), clock=lambda: now[0])
    y, sr = _speech()
    engine.process(_frames(y[: sr * 2], sr, call="a"))
    engine.process(_frames(y[: sr * 2], sr, call="b"))
    engine.end_call("a")
    now[0] = 4.0
    engine.housekeeping()
    assert set(engine.calls) == {"a", "b"}  # grace period for late frames
    now[0] = 6.0
    engine.housekeeping()
    assert set(engine.calls) == {"b"}
    now[0] = 61.0
    engine.housekeeping()
    assert not engine.calls


def test_end_event_read_before_the_audio_still_ends_the_call(model: EmotionModel) -> None:
    # calls.events and calls.audio are separate topics: 'ended' may be seen first
    now = [0.0]
    engine = EmotionEngine(model, EngineConfig(idle_timeout_s=60, end_grace_s=5), clock=lambda: now[0])
    y, sr = _speech()
    frames = _frames(y, sr, call="a")
    engine.end_call("a")
    readings = engine.process(frames[:10])
    now[0] = 3.0
    readings += engine.process(frames[10:])
    now[0] = 7.0
    assert "a" in engine.calls  # audio came 4 s ago: still within the grace period
    now[0] = 8.5
    readings += engine.housekeeping()
    assert not engine.calls and readings
    # a late redelivered copy does not start the finished call again
    assert engine.process(frames[:5]) == [] and not engine.calls


def test_number_of_calls_is_capped(model: EmotionModel) -> None:
    engine = EmotionEngine(model, EngineConfig(max_calls=3), clock=lambda: 0.0)
    for i in range(5):
        engine.process(_frames(np.zeros(800, np.float32), 8000, call=f"c{i}"))
    assert list(engine.calls) == ["c2", "c3", "c4"]


def test_engine_refuses_an_unloaded_model() -> None:
    with pytest.raises(RuntimeError, match="load"):
        EmotionEngine(EmotionModel())


def test_an_angry_opening_is_scored_at_once_and_never_becomes_the_baseline(model: EmotionModel) -> None:
    # a caller upset from the first second (actor 1 is in the training data: this checks the
    # gating logic on real speech, not generalisation)
    y, sr = _speech()
    engine = EmotionEngine(model, clock=lambda: 0.0)
    readings = engine.process(_frames(y, sr))
    ch = engine.calls["c1"].channels["customer"]
    assert ch.baseline.n < engine.cfg.trust_windows  # still on population statistics
    assert ch.baseline.n <= len(readings) // 4
    assert any(r.state == "agitated" for r in readings[:4])


def test_a_calm_opening_teaches_the_baseline() -> None:
    clips = sorted((RAVDESS / "Actor_01").glob("03-01-0[12]-*.flac"))[:8]
    if not clips:
        pytest.skip("RAVDESS data not found")
    ys = [load_audio(p) for p in clips]
    engine = EmotionEngine(EmotionModel().load(), clock=lambda: 0.0)
    readings = engine.process(_frames(np.concatenate([a for a, _ in ys]), ys[0][1]))
    assert engine.calls["c1"].channels["customer"].baseline.n >= engine.cfg.trust_windows
    assert all(r.state == "neutral" for r in readings)
