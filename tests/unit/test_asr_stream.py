"""ChannelStream: utterances, splits, partials, ids, resume, bounded memory (fake VAD, no model)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from asr_fakes import SR, EnergyVad, W, finalize_all, frames, silence, tone

from pipeline.asr.endpointing import EndpointConfig
from pipeline.asr.stream import ChannelStream, StreamConfig

pytestmark = pytest.mark.unit

CFG = StreamConfig(
    endpoint=EndpointConfig(threshold=0.5, neg_threshold=0.2, min_silence_ms=500, speech_pad_ms=200)
)


def run(stream: ChannelStream, audio: np.ndarray, start: int = 0, decode: bool = True) -> list:
    out = []
    for chunk, pos in frames(audio, start=start):
        stream.push(chunk, pos)
        if decode:
            out += finalize_all(stream)
    return out


def test_utterances_follow_speech_with_padding():
    s = ChannelStream("c1", "agent", EnergyVad(), CFG)
    audio = np.concatenate([silence(1.0), tone(1.0), silence(1.0), tone(1.5), silence(1.0)])
    run(s, audio, decode=False)
    spans = [(u.start / SR, u.end / SR) for u in s.closed]
    assert len(spans) == 2
    (a0, a1), (b0, b1) = spans
    # the fake VAD lags by up to 4 windows (its smoothing), hence the tolerance
    assert a0 == pytest.approx(1.0 - 0.2, abs=0.15) and a1 == pytest.approx(2.0 + 0.2, abs=0.15)
    assert b0 == pytest.approx(3.0 - 0.2, abs=0.15) and b1 == pytest.approx(4.5 + 0.2, abs=0.15)


def test_final_segments_carry_ids_times_and_words_in_call_time():
    s = ChannelStream("c1", "customer", EnergyVad(), CFG)
    segs = run(s, np.concatenate([silence(2.0), tone(1.0), silence(1.0)]))
    assert len(segs) == 1
    seg = segs[0]
    assert seg.is_final and seg.text == "hello there" and seg.language == "en"
    assert seg.segment_id == f"c1:customer:{round(seg.start * 1000)}"
    assert seg.words[0].start == pytest.approx(seg.start) and seg.words[0].end == pytest.approx(
        seg.end, abs=1e-3
    )
    assert s.final_until == int(seg.end * SR) or abs(s.final_until / SR - seg.end) < 1e-3


def test_short_blips_are_not_decoded():
    s = ChannelStream("c1", "agent", EnergyVad(), CFG)
    run(s, np.concatenate([silence(1.0), tone(0.1), silence(1.0)]), decode=False)
    assert not s.closed  # 100 ms of "speech" is below min_speech_ms


def test_long_speech_is_split_at_the_quietest_point_before_max_length():
    cfg = StreamConfig(endpoint=CFG.endpoint, max_utterance_s=10.0, split_lookback_s=4.0)
    s = ChannelStream("c1", "agent", EnergyVad(), cfg)
    dip = 8.0  # a 100 ms dip inside the last 4 s before the 10 s limit
    audio = np.concatenate([tone(dip), silence(0.1), tone(12.0), silence(1.0)])
    run(s, audio, decode=False)
    spans = [(u.start / SR, u.end / SR, u.forced) for u in s.closed]
    assert spans[0][2] and spans[0][1] == pytest.approx(dip + 0.05, abs=0.1)
    assert all(end - start <= 10.0 + 1e-6 for start, end, _ in spans)
    assert spans[1][0] == spans[0][1]  # contiguous: no audio lost at a split
    assert not spans[-1][2]  # the last one is closed by silence


def test_long_turn_ends_at_a_natural_pause_shorter_than_the_end_of_turn_silence():
    cfg = dataclasses.replace(CFG, max_utterance_s=10.0, pause_split_after_s=3.0, pause_split_ms=250)
    s = ChannelStream("c1", "agent", EnergyVad(), cfg)
    # a 2 s pause-free opening, a 300 ms breath at 2 s (too early), another at 4.3 s (taken),
    # and a 100 ms dip at 7 s (too short to be a pause)
    audio = np.concatenate([tone(2.0), silence(0.3), tone(2.0), silence(0.3), tone(2.4), silence(0.1), tone(2.0),
                            silence(1.0)])
    run(s, audio, decode=False)
    spans = [(u.start / SR, u.end / SR) for u in s.closed]
    assert len(spans) == 2
    assert spans[0][1] == pytest.approx(4.45, abs=0.15)  # inside the second breath
    assert spans[1][0] == spans[0][1]  # contiguous: no audio lost at the cut
    off = dataclasses.replace(cfg, pause_split_after_s=0.0)
    s2 = ChannelStream("c1", "agent", EnergyVad(), off)
    run(s2, audio, decode=False)
    assert len(s2.closed) == 1  # off: the turn ends only at its 500 ms silence


def test_partials_then_final_share_the_segment_id():
    s = ChannelStream("c1", "agent", EnergyVad(), CFG)
    hyps = [[" one", " two"], [" one", " two", " three"], [" one", " two", " three", " four."]]
    out = []
    audio = np.concatenate([silence(0.5), tone(4.0)])
    for chunk, pos in frames(audio):
        s.push(chunk, pos)
        job = s.next_job("partial")
        if job is not None and hyps:
            words = [W(0.3 * i, 0.3 * i + 0.25, w) for i, w in enumerate(hyps.pop(0))]
            out += s.on_result(job, "".join(w.text for w in words), "en", words)
    assert [x.is_final for x in out] == [False, False, False]
    assert out[1].text.startswith("one two") and out[1].stable_len == len("one two")
    assert out[2].stable_len >= len("one two three")
    assert [x.revision for x in out] == [1, 2, 3]
    run(s, silence(1.0))
    job = s.next_job("final")
    assert job is None  # already finalised by run()


def test_a_partial_is_retracted_when_the_final_is_empty():
    s = ChannelStream("c1", "agent", EnergyVad(), CFG)
    for chunk, pos in frames(np.concatenate([silence(0.5), tone(2.0)])):
        s.push(chunk, pos)
        job = s.next_job("partial")
        if job is not None:
            partial = s.on_result(job, "uh", "en", [W(0.0, 0.2, " uh")])
    assert partial and not partial[0].is_final
    for chunk, pos in frames(silence(1.0), start=int(2.5 * SR)):
        s.push(chunk, pos)
    job = s.next_job("final")
    final = s.on_result(job, "", "en", [])  # the filter dropped the text
    assert len(final) == 1 and final[0].is_final and final[0].text == ""
    assert final[0].segment_id == partial[0].segment_id


def test_gap_and_overlap_keep_positions_exact():
    s = ChannelStream("c1", "agent", EnergyVad(), CFG)
    s.push(silence(1.0), 0)
    s.push(silence(0.5), int(1.5 * SR))  # 0.5 s lost: filled with silence
    assert s.audio.end == 2 * SR
    s.push(silence(1.0), int(1.5 * SR))  # re-delivered: only the new half counts
    assert s.audio.end == int(2.5 * SR)


def test_end_of_call_flushes_the_open_utterance():
    s = ChannelStream("c1", "agent", EnergyVad(), CFG)
    run(s, np.concatenate([silence(0.5), tone(1.0)]), decode=False)
    assert s.open is not None and not s.closed
    s.finish()
    segs = finalize_all(s)
    assert len(segs) == 1 and segs[0].end == pytest.approx(1.5, abs=0.01)
    assert s.done and s.resume_point() is None
    with pytest.raises(ValueError):
        s.push(silence(0.2), int(1.5 * SR))


def _speechy(seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    parts: list[np.ndarray] = []
    while sum(len(p) for p in parts) < seconds * SR:
        parts += [tone(rng.uniform(0.3, 4.0)), silence(rng.uniform(0.1, 1.5))]
    return np.concatenate(parts)[: int(seconds * SR)]


def test_resume_from_a_checkpoint_rebuilds_the_same_segments():
    audio = _speechy(60.0)
    full = ChannelStream("c1", "agent", EnergyVad(), CFG)
    want = run(full, audio)
    full.finish()
    want += finalize_all(full)

    # a worker that crashed at 31 s, having produced everything up to its last checkpoint
    first = ChannelStream("c1", "agent", EnergyVad(), CFG)
    produced = run(first, audio[: 31 * SR])
    point, sup, need = first.resume_point(), first.final_until, first.needed_from()
    assert point is not None and need is not None and need <= 31 * SR

    second = ChannelStream("c1", "agent", EnergyVad(), CFG, resume=point, suppress_until=sup)
    replay_from = max(0, need - int(0.2 * SR))  # the broker re-delivers whole frames
    got = run(second, audio[replay_from:], start=replay_from)
    second.finish()
    got += finalize_all(second)
    ids = [x.segment_id for x in produced + got]
    assert ids == [x.segment_id for x in want]  # nothing lost, nothing twice
    assert [(x.start, x.end) for x in produced + got] == [(x.start, x.end) for x in want]


def test_memory_stays_bounded_over_a_long_call():
    s = ChannelStream("c1", "agent", EnergyVad(), CFG)
    peak = 0
    pos = 0
    for i in range(60):  # one hour in minutes
        minute = _speechy(60.0, seed=i)
        run(s, minute, start=pos)
        pos += len(minute)
        peak = max(peak, s.memory_bytes())
        assert len(s.probs) <= int(CFG.max_utterance_s * SR) // 512 + 3
        assert len(s.resume_candidates) <= 64
    assert peak < 2 * CFG.max_utterance_s * SR * 4  # at most ~two utterances of audio
    assert s.final_until > 59 * 60 * SR


def _partial(s: ChannelStream, texts: list[str], t0: float = 0.0) -> list:
    job = s.next_job("partial")
    assert job is not None
    base = job.start / SR
    ws = [W(t0 - base + 0.4 * i, t0 - base + 0.4 * i + 0.3, " " + t) for i, t in enumerate(texts)]
    return s.on_result(job, "".join(w.text for w in ws), "en", ws)


def test_a_confirmed_sentence_becomes_final_before_the_turn_ends():
    s = ChannelStream("c1", "agent", EnergyVad(), dataclasses.replace(CFG, early_finals=True))
    for chunk, pos in frames(np.concatenate([silence(0.3), tone(2.0)])):
        s.push(chunk, pos)
    first = _partial(s, ["Hello", "there.", "My"], t0=0.8)
    assert [x.is_final for x in first] == [False]
    for chunk, pos in frames(tone(1.2), start=int(2.3 * SR)):
        s.push(chunk, pos)
    # the second hypothesis confirms "Hello there.": it is cut off as its own utterance ...
    assert _partial(s, ["Hello", "there.", "My", "name"], t0=0.8) == []
    assert s.open is not None and len(s.closed) == 1 and s.closed[0].end == s.open.start
    cut = s.open.start / SR
    assert 0.8 + 0.7 < cut < 0.8 + 0.8  # between "there." (ends 1.5 s) and "My" (starts 1.6 s)
    # ... decoded whole and finalised at once, replacing the partial (same segment id)
    (final,) = finalize_all(s, "Hello there.")
    assert final.is_final and final.segment_id == first[0].segment_id and final.end == pytest.approx(cut)
    assert s.final_until == pytest.approx(cut * SR, abs=1)
    # the rest of the turn is final when the VAD closes it, under a new id starting at the cut
    for chunk, pos in frames(silence(1.0), start=int(3.5 * SR)):
        s.push(chunk, pos)
    (rest,) = finalize_all(s)
    assert rest.start == pytest.approx(cut) and rest.segment_id == f"c1:agent:{round(cut * 1000)}"


def test_without_early_finals_a_confirmed_sentence_stays_partial():
    s = ChannelStream("c1", "agent", EnergyVad(), CFG)
    for chunk, pos in frames(np.concatenate([silence(0.3), tone(3.5)])):
        s.push(chunk, pos)
    _partial(s, ["Hello", "there.", "My"], t0=0.8)
    s.partials.allow_now()  # allow the next partial at once
    out = _partial(s, ["Hello", "there.", "My", "name"], t0=0.8)
    assert [x.is_final for x in out] == [False] and out[0].text == "Hello there. My name"
    assert out[0].stable_len == len("Hello there. My") and not s.closed


def test_a_replayed_turn_continues_after_what_was_already_final():
    audio = np.concatenate([silence(0.5), tone(4.0), silence(1.0)])
    first = ChannelStream("c1", "agent", EnergyVad(), CFG)
    for chunk, pos in frames(audio[: int(2.0 * SR)]):
        first.push(chunk, pos)
    point = first.resume_point()
    # an early final up to 1.5 s was produced before the crash
    resumed = ChannelStream("c1", "agent", EnergyVad(), CFG, resume=point, suppress_until=int(1.5 * SR))
    got = run(resumed, audio)
    assert len(got) == 1 and got[0].start == pytest.approx(1.5)
    assert got[0].segment_id == "c1:agent:1500"


def test_words_stable_after_a_forced_split_stay_stable_in_the_next_utterance():
    cfg = dataclasses.replace(CFG, max_utterance_s=4.0, split_lookback_s=2.0)
    s = ChannelStream("c1", "agent", EnergyVad(), cfg)
    for chunk, pos in frames(np.concatenate([silence(0.3), tone(2.6), silence(0.15), tone(1.05)])):
        s.push(chunk, pos)  # a dip at 2.9-3.05 s: where the split will cut
    texts = [f"w{i}" for i in range(9)]  # 0.4 s apart from 0.5 s: up to 4.0 s
    _partial(s, texts[:8], t0=0.5)
    s.partials.allow_now()
    (first,) = _partial(s, texts, t0=0.5)
    assert first.stable_len == len(" ".join(texts[:8]))
    for chunk, pos in frames(tone(1.0), start=int(4.1 * SR)):  # the utterance passes 4 s: split
        s.push(chunk, pos)
    assert len(s.closed) == 1 and s.open is not None
    cut = s.open.start / SR
    assert 2.9 < cut < 3.1
    finalize_all(s)
    carried = [w.text.strip() for w in first.words[:8] if w.start >= cut + 0.2]
    assert carried  # some stable words lie after the cut
    s.partials.allow_now()
    (nxt,) = _partial(s, ["zz"], t0=4.6)  # the new utterance's first decode disagrees with everything
    assert nxt.segment_id != first.segment_id
    assert nxt.text.startswith(" ".join(carried)) and nxt.stable_len == len(" ".join(carried))
