"""PartitionLedger / AsrCall: what the ASR worker holds per call and partition (pure, no broker)."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from pipeline.asr.checkpoint import Checkpoint, stream_key
from pipeline.asr.ledger import ORPHAN_EVENT_S, PartitionLedger
from pipeline.asr.types import SR, ResumePoint

pytestmark = pytest.mark.unit

AUDIO0 = TopicPartition("calls.audio", 0)
EVENTS0 = TopicPartition("calls.events", 0)


class _Vad:
    def to_dict(self) -> dict:
        return {"fake": True}


def _frame(ledger: PartitionLedger, call_id: str, ch: str, offset: int, end: float, seq: int, partition=0):
    call = ledger.call(call_id)
    ledger.attach(call, partition)
    call.channel(ch).accepted(offset, end, seq, captured_at=1000.0 + end)
    ledger.consumed(AUDIO0, offset)
    return call


def test_one_call_holds_its_partition_channels_and_capture_times():
    led = PartitionLedger()
    call = _frame(led, "c1", "agent", 10, 0.2, 0)
    _frame(led, "c1", "agent", 11, 0.4, 1)
    _frame(led, "c1", "customer", 12, 0.2, 0)
    assert call.partition == 0 and set(call.channels) == {"agent", "customer"}
    assert call.channels["agent"].frames.last_seq == 1 and call.channels["agent"].audio_end == 0.4
    assert led.captured_at("c1", "agent", 0.3) == pytest.approx(1000.3)
    assert led.captured_at("c1", "nobody", 0.3) == 0.0 and led.next_offset[AUDIO0] == 13


def test_audio_is_complete_at_the_announced_duration_or_after_a_quiet_second():
    led = PartitionLedger()
    call = _frame(led, "c1", "agent", 1, 4.0, 0)
    _frame(led, "c1", "customer", 2, 5.0, 0)
    call.info.duration = 5.0
    assert not call.audio_complete(now=0.0)  # the agent channel is a second short
    _frame(led, "c1", "agent", 3, 5.0, 1)
    assert call.audio_complete(now=0.0)
    call.info.duration, call.last_audio = 0.0, 100.0
    assert not call.audio_complete(now=100.5) and call.audio_complete(now=101.5)


def test_a_finished_call_drops_its_late_frames_and_is_evicted_once_its_events_are_committed():
    led = PartitionLedger()
    _frame(led, "c1", "agent", 7, 1.0, 0)
    led.event_seen(EVENTS0, 3, "c1", now=0.0)
    led.next_offset[EVENTS0] = 4
    led.call_done("c1")
    assert led.drop_reason(0, 8, stream_key("c1", "agent")) == "late"
    assert led.drop_reason(0, 8, stream_key("c1", "customer")) is None
    assert led.get("c1").finished and not led.get("c1").channels
    # not ended, no audio state saved: its event waits (as for a call with no audio yet) ...
    assert led.event_commits(None, saved=set(), live=set(), now=1.0) == {EVENTS0: 3}
    assert led.get("c1") is not None  # ... and the call is kept while an event refers to it
    led.get("c1").info.ended = True
    assert led.event_commits(None, saved=set(), live=set(), now=1.0) == {EVENTS0: 4}
    assert led.get("c1") is None  # evicted: nothing refers to it any more
    assert led.drop_reason(0, 9, stream_key("c1", "agent")) == "late"  # still dropped


def test_events_of_calls_without_audio_hold_the_commit_back_until_orphaned():
    led = PartitionLedger()
    led.call("c9")  # "started" seen, no audio yet
    led.event_seen(EVENTS0, 5, "c9", now=0.0)
    led.next_offset[EVENTS0] = 6
    assert led.event_commits(None, set(), {"c9"}, now=10.0) == {EVENTS0: 5}
    assert led.event_commits({1}, set(), {"c9"}, now=10.0) == {}  # another partition's commit
    assert led.event_commits(None, {"c9"}, {"c9"}, now=10.0) == {EVENTS0: 6}  # in a checkpoint now
    led.event_seen(EVENTS0, 6, "c9", now=10.0)
    led.next_offset[EVENTS0] = 7
    assert led.event_commits(None, set(), {"c9"}, now=10.0 + ORPHAN_EVENT_S + 1) == {EVENTS0: 7}


def test_the_checkpoint_resumes_at_the_oldest_needed_frame_and_keeps_finished_streams():
    led = PartitionLedger()
    for i in range(10):
        _frame(led, "c1", "agent", 100 + i, 0.2 * (i + 1), i)
    led.finished[0][stream_key("old", "agent")] = 50  # before the resume offset: forgotten
    led.finished[0][stream_key("done", "agent")] = 105
    rp = ResumePoint(window=31, vad_state=_Vad(), floor=int(1.0 * SR))
    snap = {("c1", "agent"): (rp, int(1.0 * SR), int(0.9 * SR), "en", "open")}
    ck = led.checkpoint("calls.audio", 0, 110, snap, now=123.0)
    assert ck.offset == 104  # the frame ending at 1.0 s (minus warm-up) is the first needed
    assert set(ck.streams) == {stream_key("c1", "agent")} and ck.calls["c1"].language == "en"
    assert ck.done == {stream_key("done", "agent"): 105}
    # a stream of a call on another partition is not this checkpoint's
    other = led.checkpoint("calls.audio", 1, 0, snap, now=0.0)
    assert other.streams == {} and other.offset == 0


def test_revocation_takes_a_partitions_calls_and_offsets_and_detaches_them():
    led = PartitionLedger()
    _frame(led, "c1", "agent", 1, 0.2, 0, partition=0)
    _frame(led, "c2", "agent", 1, 0.2, 0, partition=1)
    led.event_seen(EVENTS0, 1, "c1", now=0.0)
    gone = led.revoke({0}, [AUDIO0, EVENTS0])
    assert gone == ["c1"] and "c1" in led.detached and led.get("c1") is None and led.get("c2") is not None
    assert AUDIO0 not in led.next_offset and EVENTS0 not in led.events
    led.attach(led.call("c1"), 0)  # assigned back: its segments are ours again
    assert "c1" not in led.detached


def test_restore_from_a_checkpoint_skips_what_was_transcribed():
    led = PartitionLedger()
    ck = Checkpoint("calls.audio", 0, 40, done={stream_key("c1", "agent"): 39})
    led.restore(AUDIO0, ck)
    assert led.next_offset[AUDIO0] == 40
    assert led.drop_reason(0, 39, stream_key("c1", "agent")) == "duplicate"


def test_a_checkpoint_keeps_the_calls_queue_and_reads_entries_of_newer_workers() -> None:
    from pipeline.asr.checkpoint import CallEntry, Checkpoint

    ck = Checkpoint("calls.audio", 0, 10, calls={"c1": CallEntry("zh", "open", False, 0.0, "claims")})
    back = Checkpoint.from_bytes(ck.to_bytes())
    assert back.calls["c1"].queue == "claims"
    raw = ck.to_bytes().replace(b'"queue":"claims"', b'"queue":"claims","added_later":1')
    assert Checkpoint.from_bytes(raw).calls["c1"] == CallEntry("zh", "open", False, 0.0, "claims")
    old = ck.to_bytes().replace(b',"queue":"claims"', b"")  # written before queues: the default vocabulary
    assert Checkpoint.from_bytes(old).calls["c1"].queue == ""
