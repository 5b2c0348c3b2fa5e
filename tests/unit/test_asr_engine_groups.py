"""WhisperEngine.decode groups a batch by language, domain *and encoder window*: a batch is
padded to its widest member, and Whisper writes other text for padded audio
(bench.asr_batching), so a final must not depend on which other finals shared its model call."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from models.whisper.decoding import DecodeRequest, DecodeResult
from models.whisper.engine import EngineConfig, WhisperEngine

pytestmark = pytest.mark.unit


def _req(seconds: float, language: str | None = "en", domain: str = "") -> DecodeRequest:
    return DecodeRequest(audio=np.zeros(int(16000 * seconds), np.float32), language=language, domain=domain)


def _engine(calls: list[list[DecodeRequest]]) -> WhisperEngine:
    e = WhisperEngine(EngineConfig(languages=("en", "zh")))
    e._model = SimpleNamespace()

    def decode_group(reqs: list[DecodeRequest]) -> list[DecodeResult]:
        calls.append(reqs)
        return [DecodeResult(f"{len(r.audio)}", [], r.language or "en", 1.0, 0.0, 0.0, 1.0, len(r.audio) / 16000)
                for r in reqs]

    e._decode_group = decode_group  # type: ignore[method-assign]
    return e


def test_a_model_call_never_mixes_encoder_windows_languages_or_domains():
    calls: list[list[DecodeRequest]] = []
    e = _engine(calls)
    reqs = [_req(3.0), _req(2.5), _req(12.0), _req(3.1, "zh"), _req(3.0, domain="claims"), _req(11.5), _req(3.2)]
    out = e.decode(reqs)
    assert [r.text for r in out] == [str(len(r.audio)) for r in reqs]  # answers in request order
    for call in calls:
        assert len({(r.language, r.domain, e.encoder_window_of(r)) for r in call}) == 1
    assert sorted(len(c) for c in calls) == [1, 1, 1, 2, 2]  # 3.0+2.5 s and 12.0+11.5 s share a call; 3.2 s does not


def test_unknown_language_requests_go_one_by_one():
    calls: list[list[DecodeRequest]] = []
    e = _engine(calls)
    e.decode([_req(3.0, None), _req(3.0, None)])
    assert [len(c) for c in calls] == [1, 1]


def test_fit_window_rounds_up_to_whole_seconds_with_margin_and_a_floor():
    e = WhisperEngine(EngineConfig())
    assert e.encoder_window_of(_req(1.0)) == 500  # 5 s floor
    assert e.encoder_window_of(_req(3.0)) == 500  # 3 s + 2 s margin
    assert e.encoder_window_of(_req(3.2)) == 600
    assert e.encoder_window_of(_req(40.0)) == 3000  # Whisper's 30 s at most
    assert WhisperEngine(EngineConfig(encoder_window="full")).encoder_window_of(_req(1.0)) == 3000
