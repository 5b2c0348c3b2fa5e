"""Per-call live view model (assist_ui.live_state)."""

from __future__ import annotations

import pytest

from assist_ui.live_state import LiveRecordError, LiveState

pytestmark = pytest.mark.unit


def seg(seg_id, text, final=False, rev=0, start=0.0, channel="customer", call_id="c1"):
    return {"call_id": call_id, "channel": channel, "segment_id": seg_id, "is_final": final, "start": start,
            "end": start + 1, "text": text, "revision": rev, "language": "zh", "produced_at": 100.0}


def started(call_id="c1", agent="agent-1", ts=1000.0):
    return {"call_id": call_id, "kind": "started", "ts": ts, "agent_id": agent, "queue": "q", "language": "zh"}


def test_partial_replaced_by_later_partial_then_final():
    st = LiveState()
    assert st.apply("segment", seg("s1", "你好"), 1).message["item"]["text"] == "你好"
    assert st.apply("segment", seg("s1", "你好我想", rev=1), 2) is not None
    final = st.apply("segment", seg("s1", "你好，我想退款。", final=True, rev=2), 3)
    assert final.message["item"]["is_final"] is True
    snap = st.get("c1").snapshot()
    assert [s["text"] for s in snap["segments"]] == ["你好，我想退款。"]


def test_final_is_never_replaced_and_duplicates_are_ignored():
    st = LiveState()
    st.apply("segment", seg("s1", "final text", final=True, rev=2), 1)
    assert st.apply("segment", seg("s1", "final text", final=True, rev=2), 2) is None  # redelivered final
    assert st.apply("segment", seg("s1", "late partial", rev=1), 3) is None  # partial after its final
    assert st.apply("segment", seg("s1", "other final", final=True, rev=3), 4) is None
    assert st.get("c1").segments["s1"]["text"] == "final text"


def test_older_partial_delivered_late_is_ignored():
    st = LiveState()
    st.apply("segment", seg("s1", "abc", rev=2), 1)
    assert st.apply("segment", seg("s1", "a", rev=1), 2) is None
    assert st.apply("segment", seg("s1", "abc", rev=2), 3) is None  # identical partial
    assert st.get("c1").segments["s1"]["text"] == "abc"


def test_snapshot_orders_segments_by_start_and_versions_increase():
    st = LiveState()
    st.apply("segment", seg("b", "second", final=True, start=5.0), 1)
    st.apply("segment", seg("a", "first", final=True, start=1.0, channel="agent"), 2)
    snap = st.get("c1").snapshot()
    assert [s["segment_id"] for s in snap["segments"]] == ["a", "b"]
    assert snap["v"] == 2


def test_alerts_and_suggestions_dedupe_by_id():
    st = LiveState()
    alert = {"call_id": "c1", "alert_id": "a1", "rule_id": "r", "severity": "high", "message": "m"}
    assert st.apply("alert", alert, 1) is not None
    assert st.apply("alert", dict(alert, message="changed"), 2) is None
    sugg = {"call_id": "c1", "suggestion_id": "s1", "kind": "kb", "title": "t", "text": "x"}
    assert st.apply("suggestion", sugg, 3) is not None
    assert st.apply("suggestion", sugg, 4) is None
    call = st.get("c1")
    assert len(call.alerts) == 1 and call.alerts["a1"]["message"] == "m" and len(call.suggestions) == 1
    assert call.max_severity() == "high"


def test_provisional_alert_is_replaced_once_by_its_confirmation_or_retraction():
    st = LiveState()
    prov = {"call_id": "c1", "alert_id": "a1", "rule_id": "r", "severity": "high", "message": "m", "provisional": True}
    assert st.apply("alert", prov, 1) is not None
    assert st.apply("alert", prov, 2) is None  # a duplicate of the provisional one
    change = st.apply("alert", dict(prov, provisional=False, retracted=True), 3)
    assert change is not None and change.message["item"]["retracted"] is True
    assert st.apply("alert", prov, 4) is None  # a late provisional copy does not undo the retraction
    call = st.get("c1")
    assert call.alerts["a1"]["retracted"] is True and call.max_severity() == ""
    assert call.wall_row()["alerts_open"] == 0
    seg_rec = dict(seg("s1", "hello there", rev=1), stable_len=5)
    st.apply("segment", seg_rec, 5)
    assert call.segments["s1"]["stable_len"] == 5


def test_emotion_keeps_newest_state_and_a_curve_without_duplicates():
    st = LiveState()
    e = {"call_id": "c1", "channel": "customer", "state": "angry", "arousal": 0.8, "trend": "rising", "at": 6.0}
    st.apply("emotion", e, 1)
    st.apply("emotion", dict(e, state="neutral", arousal=0.3, at=3.0), 2)  # older window, out of order
    assert st.apply("emotion", e, 3) is None
    call = st.get("c1")
    assert call.emotion["customer"]["state"] == "angry"
    assert [p["at"] for p in call.curve] == [6.0, 3.0]
    assert call.wall_row()["emotion"] == {"state": "angry", "trend": "rising", "arousal": 0.8}


def test_voiced_windows_reset_the_silence_and_agent_overlap_marks_talk_over():
    st = LiveState()
    st.apply("event", started(), 1000.0)
    assert st.get("c1").wall_row()["last_speech_at"] == 0.0
    e = {"call_id": "c1", "channel": "customer", "state": "neutral", "arousal": 0.2, "trend": "steady", "at": 3.0}
    st.apply("emotion", e, 1003.0)  # a voiced window with no transcript yet is still speech
    row = st.get("c1").wall_row()
    assert (row["last_speech_at"], row["talk_over_at"]) == (1003.0, 0.0)
    st.apply("emotion", dict(e, at=3.0), 1009.0)  # a duplicate window is not new speech
    assert st.get("c1").wall_row()["last_speech_at"] == 1003.0
    agent = dict(e, channel="agent", at=6.0, hints=["talking_over"])
    st.apply("emotion", agent, 1006.0)
    st.apply("emotion", dict(e, at=5.0), 1005.5)  # arrives late: the silence clock never goes back
    row = st.get("c1").wall_row()
    assert (row["last_speech_at"], row["talk_over_at"]) == (1006.0, 1006.0)
    st.apply("emotion", dict(agent, at=9.0, hints=[]), 1009.0)
    assert st.get("c1").wall_row()["talk_over_at"] == 1006.0  # the page hides it once it is old
    st.apply("emotion", dict(e, at=12.0, hints=["talking_over"]), 1012.0)  # only the agent's hint counts
    assert st.get("c1").wall_row()["talk_over_at"] == 1006.0


def test_call_events_set_owner_and_status():
    st = LiveState()
    st.apply("segment", seg("s1", "hi"), 1)  # a record before the start event: no owner yet
    assert st.get("c1").agent_id == ""
    change = st.apply("event", started(), 2)
    assert change.owner_changed and change.prev_agent_id == "" and change.agent_id == "agent-1"
    assert st.apply("event", started(), 3) is None  # duplicate start
    ended = st.apply("event", {"call_id": "c1", "kind": "ended", "ts": 1030.0, "duration": 29.5}, 4)
    assert not ended.owner_changed
    meta = st.get("c1").meta()
    assert meta["status"] == "ended" and meta["duration"] == 29.5 and meta["started_at"] == 1000.0
    assert st.calls_of("agent-1")[0].call_id == "c1" and st.calls_of("agent-2") == []
    transfer = st.apply("event", started(agent="agent-2"), 5)
    assert transfer.owner_changed and transfer.prev_agent_id == "agent-1"


def test_end_of_unknown_call_is_not_shown():
    st = LiveState()
    assert st.apply("event", {"call_id": "zz", "kind": "ended", "ts": 1.0}, 1) is None
    assert len(st) == 0


@pytest.mark.parametrize(
    ("kind", "record", "message"),
    [
        ("segment", {"call_id": "", "segment_id": "s"}, "call_id"),
        ("segment", {"call_id": "c1", "segment_id": ""}, "segment_id"),
        ("alert", {"call_id": "c1"}, "alert_id"),
        ("suggestion", {"call_id": "c1", "suggestion_id": None}, "suggestion_id"),
        ("emotion", {"call_id": "c1"}, "channel"),
        ("event", {"call_id": "c1", "kind": "paused"}, "neither"),
        ("audio", {"call_id": "c1"}, "unknown record kind"),
    ],
)
def test_bad_records_raise_clear_errors(kind, record, message):
    st = LiveState()
    with pytest.raises(LiveRecordError, match=message):
        st.apply(kind, record, 1)


def test_eviction_of_ended_and_idle_calls():
    st = LiveState(ended_retention_s=10, idle_timeout_s=100)
    st.apply("event", started("ended-call"), 0)
    st.apply("event", {"call_id": "ended-call", "kind": "ended", "ts": 5.0}, 5)
    st.apply("event", started("idle-call"), 0)
    st.apply("event", started("busy-call"), 0)
    st.apply("segment", seg("s", "x", call_id="busy-call"), 95)
    assert st.evict(14) == []
    assert st.evict(16) == ["ended-call"]
    assert st.evict(101) == ["idle-call"]
    assert [c.call_id for c in st.calls()] == ["busy-call"]


def test_bounds_on_calls_and_segments():
    st = LiveState(max_calls=2, max_segments=3)
    st.apply("event", started("old"), 1)
    st.apply("event", {"call_id": "old", "kind": "ended", "ts": 2.0}, 2)
    st.apply("event", started("live1"), 3)
    st.apply("event", started("live2"), 4)  # over the bound: the ended call goes first
    assert sorted(c.call_id for c in st.calls()) == ["live1", "live2"]
    for i in range(5):
        st.apply("segment", seg(f"s{i}", "t", final=True, start=float(i), call_id="live1"), 5 + i)
    st.apply("segment", seg("p", "partial", call_id="live1", start=9.0), 20)
    kept = list(st.get("live1").segments)
    assert len(kept) == 3 and "p" in kept and "s0" not in kept


def test_time_on_hold_is_not_counted_as_silence():
    st = LiveState()
    st.apply("event", started(), 1000.0)
    st.apply("event", {"call_id": "c1", "kind": "hold", "ts": 1010.0}, 1010.0)
    assert st.get("c1").wall_row()["last_speech_at"] == 0.0
    st.apply("event", {"call_id": "c1", "kind": "resume", "ts": 1090.0}, 1090.0)
    row = st.get("c1").wall_row()
    assert (row["call_state"], row["last_speech_at"]) == ("active", 1090.0)
    st.apply("event", {"call_id": "c1", "kind": "unmute", "ts": 1100.0}, 1100.0)  # not off hold: no reset
    assert st.get("c1").wall_row()["last_speech_at"] == 1090.0
