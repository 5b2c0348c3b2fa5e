"""bench.asr_batching: the utterances it re-decodes and the per-size figures (no model)."""

from __future__ import annotations

import numpy as np
import pytest
from asr_fakes import FakeDecoder

from bench.asr_batching import RecordingDecoder, _run, batches
from models.whisper.decoding import DecodeRequest

pytestmark = pytest.mark.unit


def _reqs(n: int) -> list[DecodeRequest]:
    return [DecodeRequest(audio=np.zeros(16000 * (i + 1), np.float32), language="en") for i in range(n)]


def test_recording_decoder_passes_through_and_keeps_every_request():
    fake = FakeDecoder("hi")
    rec = RecordingDecoder(fake)
    reqs = _reqs(3)
    assert [r.text for r in rec.decode(reqs[:2]) + rec.decode(reqs[2:])] == ["hi"] * 3
    assert rec.requests == reqs and fake.batches == [2, 1]


def test_run_decodes_in_batches_of_the_size_and_reports_per_audio_second():
    fake = FakeDecoder("hi")
    row = _run(fake, _reqs(5), 2)
    assert fake.batches == [2, 2, 1]
    assert row["size"] == 2 and row["texts"] == ["hi"] * 5
    assert row["cpu_s_per_audio_s"] >= 0 and row["wall_s_per_audio_s"] >= 0 and row["mean_wait_s"] >= 0


def test_same_window_batches_never_mix_widths_and_keep_arrival_order():
    reqs = _reqs(6)
    width = {id(r): w for r, w in zip(reqs, [5, 5, 7, 5, 7, 9], strict=True)}
    got = batches(reqs, 2, lambda r: width[id(r)])
    assert got == [[0, 1], [2, 4], [3], [5]]
    assert all(len({width[id(reqs[i])] for i in b}) == 1 for b in got)
    assert batches(reqs, 4) == [[0, 1, 2, 3], [4, 5]]
