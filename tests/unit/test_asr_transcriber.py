"""Transcriber: audio chunks in, partial and final segments out (fake VAD, FakeDecoder, no model).

The decoder is :class:`asr_fakes.FakeDecoder`, a subclass of the real decoder interface
(:class:`models.whisper.decoding.UtteranceDecoder`), so this runs the real threads, decode
loop, scheduler, streams and language policy, with only the model scripted.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from asr_fakes import SR, EnergyVad, FakeDecoder, silence, tone
from prometheus_client import CollectorRegistry

from models.whisper.decoding import UtteranceDecoder
from pipeline.asr.calls import LanguagePolicy
from pipeline.asr.endpointing import EndpointConfig
from pipeline.asr.metrics import AsrMetrics
from pipeline.asr.stream import SegmentOut, StreamConfig
from pipeline.asr.transcriber import Transcriber, TranscriberConfig

pytestmark = pytest.mark.unit

ENDPOINT = EndpointConfig(threshold=0.5, neg_threshold=0.2, min_silence_ms=500, speech_pad_ms=200)
FINALS_ONLY = TranscriberConfig(
    stream=StreamConfig(endpoint=ENDPOINT, partials=False), language=LanguagePolicy(("en", "zh"))
)
WITH_PARTIALS = TranscriberConfig(
    stream=StreamConfig(endpoint=ENDPOINT, partials=True), language=LanguagePolicy(("en", "zh"))
)
TWO_TURNS = np.concatenate([silence(1.0), tone(1.0), silence(1.0), tone(1.5), silence(1.0)])


async def transcribe(
    decoder: FakeDecoder,
    config: TranscriberConfig,
    audio: np.ndarray,
    language: str | None = "en",
    rate: int = SR,
    settle_each_frame: bool = False,
    metrics: AsrMetrics | None = None,
    queue: str = "",
) -> tuple[list[SegmentOut], list[str]]:
    """Feed ``audio`` (at ``rate``) as one call in 200 ms chunks; returns (segments, calls done)."""
    out: list[SegmentOut] = []
    done: list[str] = []

    async def on_segments(segs: list[SegmentOut]) -> None:
        out.extend(segs)

    async def on_done(call_id: str) -> None:
        done.append(call_id)

    tr = Transcriber(decoder, EnergyVad, config, on_segments, metrics, on_call_done=on_done)
    await tr.start()
    try:
        await tr.open_call("c1", language, queue=queue)
        n = int(0.2 * rate)
        for i in range(0, len(audio), n):
            await tr.audio("c1", "agent", audio[i : i + n], rate, i / rate)
            if settle_each_frame:
                await tr.drain()  # the model keeps up: every due partial is decoded now
        await tr.end_call("c1")
        await tr.drain()
        assert not tr.calls  # a finished call is forgotten
    finally:
        await tr.stop()
    return out, done


def test_the_fake_decoder_is_a_real_decoder():
    assert isinstance(FakeDecoder(), UtteranceDecoder)
    with pytest.raises(TypeError):
        UtteranceDecoder()  # type: ignore[abstract]  # the interface itself decodes nothing


async def test_each_utterance_becomes_one_final_with_call_time_ids_and_words():
    dec = FakeDecoder("hello there")
    segs, done = await transcribe(dec, FINALS_ONLY, TWO_TURNS)
    assert [s.is_final for s in segs] == [True, True] and done == ["c1"]
    first, second = segs
    assert first.start == pytest.approx(0.8, abs=0.15) and first.end == pytest.approx(2.2, abs=0.15)
    assert second.start == pytest.approx(2.8, abs=0.15) and second.end == pytest.approx(4.7, abs=0.15)
    for seg in segs:
        assert seg.text == "hello there" and seg.language == "en" and seg.channel == "agent"
        assert seg.segment_id == f"c1:agent:{round(seg.start * 1000)}"
        assert [w.text for w in seg.words] == [" hello", " there"]
        assert seg.words[0].start == pytest.approx(seg.start) and seg.words[-1].end == pytest.approx(seg.end)
    assert all(r.language == "en" for r in dec.requests)
    # decoding runs on the decode thread, never on the event loop's
    assert dec.threads and all(t.startswith("asr-decode") for t in dec.threads)
    assert threading.current_thread().name not in dec.threads


async def test_8khz_audio_is_resampled_onto_the_16khz_call_time_line():
    audio_8k = TWO_TURNS[::2].copy()  # the same call at 8 kHz
    segs, _ = await transcribe(FakeDecoder(), FINALS_ONLY, audio_8k, rate=8000)
    assert len(segs) == 2
    assert segs[0].start == pytest.approx(0.8, abs=0.15) and segs[1].start == pytest.approx(2.8, abs=0.15)


async def test_partials_come_first_under_the_final_segment_id_then_the_final_supersedes_them():
    dec = FakeDecoder("one two three")
    audio = np.concatenate([silence(0.5), tone(4.0), silence(1.0)])
    segs, _ = await transcribe(dec, WITH_PARTIALS, audio, settle_each_frame=True)
    finals = [s for s in segs if s.is_final]
    partials = [s for s in segs if not s.is_final]
    assert len(finals) == 1 and len(partials) >= 2
    final = finals[0]
    assert segs[-1] is final  # nothing of this utterance after its final
    assert {p.segment_id for p in partials} == {final.segment_id}
    assert [p.revision for p in partials] == list(range(1, len(partials) + 1))
    assert final.revision == partials[-1].revision + 1
    assert all(p.text == "one two three" for p in partials)
    # two consecutive hypotheses agree: LocalAgreement marks (a prefix of) the text stable
    assert partials[-1].stable_len > 0
    assert partials[0].end < partials[-1].end <= final.end


async def test_without_partials_only_finals_are_decoded():
    dec = FakeDecoder()
    audio = np.concatenate([silence(0.5), tone(4.0), silence(1.0)])
    segs, _ = await transcribe(dec, FINALS_ONLY, audio, settle_each_frame=True)
    assert [s.is_final for s in segs] == [True] and len(dec.requests) == 1


async def test_a_failed_batch_is_retried_one_by_one():
    dec = FakeDecoder(fail=1)
    metrics = AsrMetrics(CollectorRegistry())
    segs, _ = await transcribe(dec, FINALS_ONLY, TWO_TURNS, metrics=metrics)
    assert [s.text for s in segs] == ["hello there", "hello there"]
    assert (
        metrics.registry.get_sample_value("callassist_errors_total", {"component": "asr", "kind": "model"})
        == 1
    )


async def test_a_job_that_fails_twice_is_dropped_and_the_call_still_ends():
    dec = FakeDecoder(fail=2)  # the first utterance: its batch and its retry
    segs, done = await transcribe(dec, FINALS_ONLY, TWO_TURNS)
    assert len(segs) == 1 and segs[0].start == pytest.approx(2.8, abs=0.15)
    assert done == ["c1"]


async def test_language_is_detected_once_then_forced():
    dec = FakeDecoder(detected="zh", text="你好")
    audio = np.concatenate([silence(0.5), tone(2.5), silence(1.0), tone(2.5), silence(1.0)])
    segs, _ = await transcribe(dec, FINALS_ONLY, audio, language=None)
    assert [r.language for r in dec.requests] == [None, "zh"]  # a 2.5 s confident detection fixes it
    assert [s.language for s in segs] == ["zh", "zh"]


async def test_empty_decodes_produce_no_segments():
    segs, done = await transcribe(FakeDecoder(text=""), FINALS_ONLY, TWO_TURNS)
    assert segs == [] and done == ["c1"]


async def test_the_calls_queue_reaches_every_decode_request():
    dec = FakeDecoder("hello there")
    await transcribe(dec, WITH_PARTIALS, TWO_TURNS, queue="claims")
    assert dec.requests and {r.domain for r in dec.requests} == {"claims"}  # partials and finals alike
    plain = FakeDecoder("hello there")
    await transcribe(plain, FINALS_ONLY, TWO_TURNS)
    assert {r.domain for r in plain.requests} == {""}  # no queue: the default vocabulary
