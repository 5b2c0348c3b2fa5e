"""The real models on real recordings: Whisper base (CTranslate2) and Silero VAD (ONNX).

Mandarin is tested on real speech (../shared/data/speech), never synthesized: Whisper does
not recognise espeak-ng Mandarin.  Noise and "hold music" are synthetic on purpose: they
must produce no text at all.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from models.whisper.engine import DecodeRequest
from models.whisper.scoring import cer, wer
from models.whisper.text import to_simplified
from models.whisper.vad import StreamingVad, VadModel, VadState
from pipeline.asr.loading import load_models
from pipeline.asr.offline import transcribe_files
from pipeline.asr.settings import AsrSettings
from streams.platform.audio_codec import resample

pytestmark = pytest.mark.integration

SPEECH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "speech"
SR = 16000


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    if not (SPEECH / "refs.json").is_file():
        pytest.skip("../shared/data/speech not found")
    settings = AsrSettings(data_dir=tmp_path_factory.mktemp("asr-models"))
    engine, vad_factory = load_models(settings)
    return settings, engine, vad_factory


@pytest.fixture(scope="module")
def refs():
    return {r["id"]: r for r in json.loads((SPEECH / "refs.json").read_text())}


def _transcribe(loaded, path: Path, language: str | None):
    settings, engine, vad_factory = loaded
    cfg = settings.transcriber_config(engine.device, partials=False)
    return asyncio.run(transcribe_files([path], engine, vad_factory, cfg, language))[path.stem]


def test_mandarin_real_speech_detected_and_simplified(loaded, refs):
    r = refs["zh_aishell1"]
    segs = _transcribe(loaded, SPEECH / r["file"], None)  # language detected once
    text = "".join(s.text for s in segs)
    assert {s.language for s in segs} == {"zh"}
    assert text == to_simplified(text)  # no Traditional characters left
    assert cer(r["ref"], text).rate <= 0.15, text


def test_mandarin_far_field_meeting_forced(loaded, refs):
    r = refs["zh_wenet_meeting"]
    segs = _transcribe(loaded, SPEECH / r["file"], "zh")
    text = "".join(s.text for s in segs)
    assert text == to_simplified(text)
    assert cer(r["ref"], text).rate <= 0.5, text  # disfluent far-field speech: base is weak here (~0.40)


def test_english_telephone_ivr_8k(loaded, refs):
    r = refs["en_8k_ivr_main"]
    segs = _transcribe(loaded, SPEECH / r["file"], None)
    assert {s.language for s in segs} == {"en"}
    assert wer(r["ref"], " ".join(s.text for s in segs)).rate <= 0.2
    for a, b in zip(segs, segs[1:], strict=False):
        assert a.end <= b.start  # utterances never overlap
        assert a.words and all(a.start - 0.05 <= w.start <= w.end <= a.end + 0.05 for w in a.words)


def _music(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    out = np.zeros_like(t)
    notes = [261.6, 329.6, 392.0, 523.3, 440.0, 349.2]
    for i in range(int(seconds * 2)):
        seg = (t >= i * 0.5) & (t < i * 0.5 + 0.5)
        env = np.exp(-3 * (t[seg] - i * 0.5))
        for mult, amp in ((1, 0.3), (2, 0.15), (1.5, 0.1), (3, 0.07)):
            out[seg] += amp * env * np.sin(2 * np.pi * notes[i % 6] * mult * t[seg])
    return (0.5 * out).astype(np.float32)


NON_SPEECH = {
    "digital_silence": lambda rng: np.zeros(10 * SR, np.float32),
    "line_hiss": lambda rng: (0.003 * rng.standard_normal(10 * SR)).astype(np.float32),
    "white_noise": lambda rng: (0.1 * rng.standard_normal(10 * SR)).astype(np.float32),
    "hold_music": lambda rng: _music(10.0),
}


@pytest.mark.parametrize("kind", sorted(NON_SPEECH))
def test_no_text_on_silence_noise_or_music(loaded, kind, tmp_path):
    _settings, engine, _vad = loaded
    audio = NON_SPEECH[kind](np.random.default_rng(7))
    # even when decoded directly (as if VAD had let it through), the filters drop it
    for res in engine.decode([DecodeRequest(audio, "en"), DecodeRequest(audio, "zh")]):
        assert res.text == "", (kind, res.raw_text, res.dropped)
    # and the full streaming path emits nothing
    path = tmp_path / f"{kind}.wav"
    sf.write(str(path), audio, SR)
    assert _transcribe(loaded, path, None) == []


def test_streaming_vad_matches_one_pass_and_state_round_trips():
    data, rate = sf.read(str(SPEECH / "en_jfk.flac"), dtype="float32", always_2d=True)
    audio = resample(data[:, 0], rate, SR)[: 5 * SR]
    model = VadModel().load()
    whole = StreamingVad(model).process(audio, 0)
    vad = StreamingVad(model)
    parts = []
    for i in range(0, len(audio), 3200):  # 200 ms frames; windows straddle frame edges
        end = min(i + 3200, len(audio))
        first = vad.next_window * 512
        parts.append(vad.process(audio[first:end], first))
        if i == 6400:  # checkpoint and restore mid-stream: bit-for-bit the same afterwards
            saved = VadState.from_dict(vad.state().to_dict())
            vad = StreamingVad(model)
            vad.restore(saved)
    streamed = np.concatenate(parts)
    assert len(streamed) == len(whole) and np.allclose(streamed, whole, atol=1e-5)
    assert (whole > 0.5).mean() > 0.3  # JFK speaks for much of it


def test_offline_command_on_a_stereo_file(loaded, refs, capsys):
    from pipeline.asr import cli

    settings, _engine, _vad = loaded
    import os

    os.environ["CALLASSIST_DATA_DIR"] = str(settings.data_dir)
    try:
        assert (
            cli.main(["transcribe", str(SPEECH / "en_stereo_2spk_diarization.wav"), "--language", "en"]) == 0
        )
    finally:
        del os.environ["CALLASSIST_DATA_DIR"]
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert {x["channel"] for x in lines} == {"agent", "customer"}
    assert all({"channel", "start", "end", "text", "language"} <= set(x) for x in lines)
    agent = " ".join(x["text"] for x in lines if x["channel"] == "agent")
    assert wer(refs["en_stereo_L"]["ref"], agent).rate <= 0.15


def test_one_batched_model_call_equals_separate_calls(loaded, refs):
    _settings, engine, _vad = loaded
    clips = []
    for rid in ("en_stereo_L", "en_stereo_R"):
        data, rate = sf.read(str(SPEECH / refs[rid]["file"]), dtype="float32", always_2d=True)
        clips.append(resample(data[:, refs[rid]["channel"]], rate, SR))
    together = engine.decode([DecodeRequest(c, "en") for c in clips])  # one encoder + decoder pass
    alone = [engine.decode([DecodeRequest(c, "en")])[0] for c in clips]
    assert [r.text for r in together] == [r.text for r in alone]
    for rid, res in zip(("en_stereo_L", "en_stereo_R"), together, strict=True):
        assert wer(refs[rid]["ref"], res.text).rate <= 0.1
        assert res.words and res.words[-1].end <= res.duration + 0.01
