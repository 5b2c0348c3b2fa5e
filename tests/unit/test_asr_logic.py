"""Pure ASR logic: endpointing, LocalAgreement-2, scheduler, call input, language policy, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
from asr_fakes import EnergyVad, frames, silence, tone

from models.whisper.decoding import Word
from pipeline.asr.agreement import LocalAgreement
from pipeline.asr.calls import AsrCallState, AudioInputError, ChannelInput, LanguagePolicy
from pipeline.asr.checkpoint import (
    CallEntry,
    Checkpoint,
    CheckpointError,
    FrameLog,
    StreamEntry,
    resume_offset,
    split_key,
    stream_key,
)
from pipeline.asr.endpointing import EndpointConfig, Endpointer, Offset, Onset
from pipeline.asr.scheduler import pick_jobs
from pipeline.asr.stream import ChannelStream, StreamConfig

pytestmark = pytest.mark.unit


# -- endpointing -----------------------------------------------------------------------
def test_endpointer_hysteresis_and_min_silence():
    ep = Endpointer(EndpointConfig(threshold=0.5, neg_threshold=0.2, min_silence_ms=128, speech_pad_ms=0))
    events = [ep.push(k, p) for k, p in enumerate([0.1, 0.6, 0.4, 0.1, 0.3, 0.1, 0.1, 0.1, 0.9])]
    assert events[1] == Onset(1)
    # 0.4 is between the thresholds: neither speech nor silence start; silence starts at 3
    # and the 0.3 does not reset it (only >= threshold does): offset after 4 windows
    assert events[6] == Offset(3)
    assert events[8] == Onset(8)
    assert [e for e in events if e is not None] == [Onset(1), Offset(3), Onset(8)]


def test_endpoint_config_rejects_nonsense():
    with pytest.raises(ValueError):
        EndpointConfig(threshold=1.5)
    with pytest.raises(ValueError):
        EndpointConfig(threshold=0.3, neg_threshold=0.5)
    with pytest.raises(ValueError):
        EndpointConfig(min_silence_ms=300, speech_pad_ms=400)
    assert EndpointConfig(threshold=0.15).off_threshold == pytest.approx(0.05)
    assert EndpointConfig(threshold=0.5).off_threshold == pytest.approx(0.35)


def test_stream_config_limits_utterances_to_whisper_window():
    with pytest.raises(ValueError):
        StreamConfig(max_utterance_s=31.0)


# -- LocalAgreement-2 --------------------------------------------------------------------
def words(*texts: str, t0: float = 0.0) -> list[Word]:
    return [Word(t0 + 0.4 * i, t0 + 0.4 * i + 0.3, " " + t, 0.0) for i, t in enumerate(texts)]


def test_local_agreement_commits_what_two_hypotheses_agree_on():
    la = LocalAgreement(buffer_start=0.0)
    stable, tent = la.update(words("I", "want", "to"), 1.2)
    assert stable == [] and [w.text for w in tent] == [" I", " want", " to"]
    stable, tent = la.update(words("I", "want", "two", "cancel"), 1.6)
    assert [w.text for w in stable] == [" I", " want"]
    assert [w.text for w in tent] == [" two", " cancel"]
    # committed words never change, even if a later hypothesis disagrees
    stable, _ = la.update(words("Hi", "won't", "to", "cancel"), 2.0)
    assert [w.text for w in stable][:2] == [" I", " want"]


def test_local_agreement_trims_the_buffer_at_a_committed_sentence_end():
    la = LocalAgreement(buffer_start=0.0)
    la.update(words("Hello.", "My", "name"), 1.2)
    la.update(words("Hello.", "My", "name", "is"), 1.6)
    assert la.buffer_start == pytest.approx(0.3)  # after "Hello."
    assert [w.text for w in la.stable_text_words] == [" Hello."]
    # the next hypothesis covers audio after the cut only
    stable, _ = la.update(words("My", "name", "is", "Jack.", t0=0.4), 2.0)
    assert "".join(w.text for w in stable).strip().startswith("Hello. My name")


def test_one_flipped_word_does_not_hold_back_the_words_after_it():
    # H1 and H3 agree; H2 flipped the first word.  Plain LA-2 (lookback 1) must wait for H4.
    hyps = [("crazy", "noises", "yet"), ("craving", "noises", "yet", "so"), ("crazy", "noises", "yet", "so", "I'm")]
    plain, two = LocalAgreement(0.0, lookback=1), LocalAgreement(0.0)
    for i, h in enumerate(hyps):
        a, _ = plain.update(words(*h), 1.2 + i)
        b, _ = two.update(words(*h), 1.2 + i)
    assert a == [] and [w.text.strip() for w in b] == ["crazy", "noises", "yet"]
    # committed words never change, and the next agreement continues after them
    b, tent = two.update(words("crazy", "noises", "yet", "so", "I'm", "not"), 4.2)
    assert [w.text.strip() for w in b] == ["crazy", "noises", "yet", "so", "I'm"]
    assert [w.text.strip() for w in tent] == ["not"]


def test_an_older_hypothesis_that_disagrees_with_the_committed_words_is_dropped():
    la = LocalAgreement(0.0)
    la.update(words("a", "b", "c"), 1.0)
    la.update(words("x", "y", "z"), 2.0)
    stable, _ = la.update(words("x", "y", "w"), 3.0)  # agrees with H2 on "x y"
    assert [w.text.strip() for w in stable] == ["x", "y"]
    # H1 ("a b c") cannot be aligned after "x y": only H2's rest is kept as the older hypothesis
    assert [[w.text.strip() for w in h] for h in la.older] == [["z"]]
    stable, _ = la.update(words("x", "y", "c"), 4.0)  # "c" only agreed with the dropped H1
    assert [w.text.strip() for w in stable] == ["x", "y"]


@pytest.mark.parametrize("seed", range(40))
def test_stable_words_are_never_rewritten(seed):
    rng = np.random.default_rng(seed)
    vocab = ["a", "b", "c", "d."]
    la = LocalAgreement(0.0, max_buffer_s=3.0)
    seen: list[tuple[float, str]] = []
    t = 0.0
    for step in range(30):
        t += 0.5
        n = int(t / 0.4)
        first = int(la.buffer_start / 0.4 + 0.99)
        hyp = [vocab[int(rng.integers(0, 2 if rng.random() < 0.8 else 4))] for _ in range(first, n)]
        got = [(w.start, w.text) for w in la.update(words(*hyp, t0=0.4 * first), t)[0]]
        assert got[: len(seen)] == seen, f"step {step}: stable words rewritten"
        seen = got


def test_a_forced_split_keeps_the_words_stable_after_the_cut():
    la = LocalAgreement(0.0)
    la.update(words("one", "two", "three", "four"), 2.0)
    la.update(words("one", "two", "three", "four", "five"), 2.5)
    nxt = la.carry_over(0.55)  # "two" (0.4-0.7) straddles the cut; "three" starts 0.25 s after it
    assert nxt.buffer_start == 0.55
    assert [w.text.strip() for w in nxt.committed] == ["three", "four"]
    assert [w.text.strip() for w in nxt.previous] == ["five"]
    stable, tent = nxt.update(words("three", "four", "five", "six", t0=0.8), 3.0)
    assert [w.text.strip() for w in stable] == ["three", "four", "five"] and [w.text.strip() for w in tent] == ["six"]


# -- scheduler ---------------------------------------------------------------------------
CFG = StreamConfig(
    endpoint=EndpointConfig(threshold=0.5, neg_threshold=0.2, min_silence_ms=500, speech_pad_ms=200)
)


def stream_with(
    call: str, closed: int, lang: str | None, open_speech: bool = False, t: float = 0.0
) -> ChannelStream:
    clock = iter(np.arange(t, t + 1000, 0.01)).__next__
    s = ChannelStream(call, "agent", EnergyVad(), CFG, clock=clock)
    s.language = lang
    parts = []
    for _ in range(closed):
        parts += [silence(0.5), tone(1.0)]
    parts.append(silence(1.0))
    if open_speech:
        parts.append(tone(2.5))
    for chunk, pos in frames(np.concatenate(parts)):
        s.push(chunk, pos)
    return s


def test_finals_go_first_oldest_first_batched_by_language():
    a = stream_with("a", 1, "en", t=5.0)
    b = stream_with("b", 1, "zh", t=1.0)
    c = stream_with("c", 1, "zh", t=3.0)
    p = stream_with("p", 0, "zh", open_speech=True)
    jobs = pick_jobs([a, b, c, p], batch_size=4, partial_batch_size=4)
    assert [j.stream.call_id for j in jobs] == ["b", "c"]  # oldest is zh: the zh finals, together
    assert all(j.kind == "final" for j in jobs)
    assert [j.stream.call_id for j in pick_jobs([a, b, c, p], 4, 4)] == ["a"]  # b, c are in flight


def test_partials_only_when_no_final_waits_and_unknown_language_alone():
    p1 = stream_with("p1", 0, None, open_speech=True)
    p2 = stream_with("p2", 0, None, open_speech=True)
    f = stream_with("f", 1, "en")
    assert [j.kind for j in pick_jobs([p1, p2, f], 8, 8)] == ["final"]
    jobs = pick_jobs([p1, p2, f], 8, 8)
    assert len(jobs) == 1 and jobs[0].kind == "partial"  # language unknown: one per model call
    assert pick_jobs([p1, p2], 8, 8, partials=False) == []
    q = stream_with("q", 0, "en", open_speech=True)
    assert pick_jobs([q], 8, 8, partials=False) == []


# -- call input and language -------------------------------------------------------------
def test_channel_input_places_frames_on_the_16k_timeline():
    inp = ChannelInput(8000)
    out1, pos1 = inp.feed(np.zeros(1600, np.float32), 10.0, 8000)
    assert pos1 == 160000
    out2, pos2 = inp.feed(np.zeros(1600, np.float32), 10.2, 8000)
    assert pos2 == pos1 + len(out1)
    out3, pos3 = inp.feed(np.zeros(1600, np.float32), 10.6, 8000)  # 0.2 s lost
    assert inp.gaps == 1 and len(out3) > len(out2)
    _out4, _pos4 = inp.feed(np.zeros(1600, np.float32), 10.7, 8000)  # overlaps by 0.1 s
    assert inp.overlaps == 1 and inp.next_in == pytest.approx(10.9)
    tail, _ = inp.flush()
    total = sum(len(o) for o in (out1, out2, out3, _out4, tail))
    assert total == pytest.approx(2 * 8000 * 0.9, abs=2)  # 0.9 s of audio at 16 kHz
    with pytest.raises(AudioInputError):
        inp.feed(np.zeros(160, np.float32), 10.9, 16000)
    with pytest.raises(AudioInputError):
        inp.feed(np.zeros(160, np.float32), 5000.0, 8000)


def test_language_fixed_once_from_a_confident_detection_or_after_enough_speech():
    call = AsrCallState(
        "c", LanguagePolicy(("zh", "en"), detect_min_s=2.0, detect_min_prob=0.75, detect_max_s=6.0)
    )
    assert not call.observe("zh", 0.9, 1.0)  # too short to trust
    assert not call.observe("fr", 0.99, 5.0)  # not a call language
    assert call.observe("en", 0.9, 3.0) and call.language == "en" and call.language_source == "detected"
    assert not call.observe("zh", 1.0, 10.0) and call.language == "en"  # detected once
    other = AsrCallState("d", LanguagePolicy(("zh", "en"), detect_max_s=6.0))
    other.observe("zh", 0.6, 2.5)
    other.observe("en", 0.5, 1.0)
    assert other.observe("zh", 0.5, 3.0) and other.language == "zh"
    with pytest.raises(ValueError):
        other.set_language("de", "open")


# -- checkpoints -------------------------------------------------------------------------
def test_checkpoint_round_trip_and_bad_records():
    ck = Checkpoint("calls.audio", 3, 1234)
    ck.streams[stream_key("call:1", "agent")] = StreamEntry(77, {"w": 77, "s": "AAAA"}, 38000, 41000)
    ck.done[stream_key("call:2", "customer")] = 1200
    ck.calls["call:1"] = CallEntry("zh", "open", False, 0.0)
    back = Checkpoint.from_bytes(ck.to_bytes())
    assert back == ck
    assert split_key(next(iter(back.streams))) == ("call:1", "agent")
    for bad in (
        b"",
        b"{",
        b'{"v": 99}',
        b'{"v": 1, "topic": "t"}',
        b'{"v":1,"topic":"t","partition":0,"offset":1,"streams":{"k":{"w":1}}}',
    ):
        with pytest.raises(CheckpointError):
            Checkpoint.from_bytes(bad)


def test_resume_offset_is_the_oldest_needed_frame():
    log = FrameLog()
    for i in range(10):
        log.add(100 + i, 0.2 * (i + 1), i)
    assert log.first_needed(0.95) == 104  # frame [0.8, 1.0) holds 0.9 (warm-up 50 ms)
    assert resume_offset(110, [log.first_needed(0.95), None, 107]) == 104
    assert resume_offset(110, []) == 110
    log.trim(1.5)
    assert log.entries[0][0] == 106 and log.first_needed(1.5) == 107
