"""Crash replay: processing a record must never change the Faust table's stored value.

The worker loads a call's state from the table value, runs the assistant, produces the
outputs and only then writes the table.  A crash before the outputs are acknowledged
replays the record from the same stored value, so the replay must emit the same alerts:
the first attempt may not have mutated that stored value behind the table's back.
"""

from __future__ import annotations

import copy
import json

import pytest

from streams.assist.assistant import Assistant
from streams.assist.callstate import CallState, EmotionPoint
from streams.matching.segment import Segment

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def assistant() -> Assistant:
    return Assistant.from_files()


def _stored_after_greeting(assistant: Assistant) -> dict:
    """The table value of a call that has already heard one harmless agent segment."""
    st = CallState("crash", agent_id="a1")
    assistant.on_event(st, "started", ts=1000.0)
    assistant.on_segment(st, Segment("s0", "agent", 0.0, 3.0, "您好，本次通话将被录音", "zh"))
    assistant.on_emotion(st, EmotionPoint("crash:customer:0", "customer", 0.0, 2.0, "neutral", 0.2))
    return json.loads(json.dumps(st.to_dict()))  # as the table's JSON codec hands it back


def test_replayed_alert_is_emitted_again_after_a_crash_before_the_table_write(assistant: Assistant) -> None:
    stored = _stored_after_greeting(assistant)
    before = copy.deepcopy(stored)
    risky = Segment("s1", "agent", 4.0, 7.0, "这个产品是保本保息的", "zh", produced_at=1.0)

    first = assistant.on_segment(CallState.from_dict(stored), risky)
    assert [a["rule_id"] for a in first.alerts] == ["AG_GUARANTEED_RETURN"]
    # crash here: the outputs were never acknowledged and the table was never written
    assert stored == before, "processing mutated the table's stored value"

    replay = assistant.on_segment(CallState.from_dict(stored), risky)
    assert [a["alert_id"] for a in replay.alerts] == [a["alert_id"] for a in first.alerts]


def test_emotion_and_end_of_call_leave_the_stored_value_alone(assistant: Assistant) -> None:
    stored = _stored_after_greeting(assistant)
    before = copy.deepcopy(stored)
    assistant.on_emotion(CallState.from_dict(stored),
                         EmotionPoint("crash:customer:1", "customer", 2.0, 4.0, "angry", 0.9))
    assistant.on_segment(CallState.from_dict(stored), Segment("s2", "customer", 4.0, 6.0, "我要投诉你们", "zh"))
    first = assistant.on_event(CallState.from_dict(stored), "ended", ts=1100.0, duration=60.0)
    assert stored == before
    again = assistant.on_event(CallState.from_dict(stored), "ended", ts=1100.0, duration=60.0)
    assert [a["alert_id"] for a in again.alerts] == [a["alert_id"] for a in first.alerts]


def test_the_worker_step_replays_a_record_from_the_untouched_table_value(assistant: Assistant) -> None:
    """streams.assist.step.apply_record is what the Faust agent runs per record (in its executor)."""
    from streams.assist.step import apply_record
    from streams.contract.records import CallEvent, EmotionReading, TranscriptSegment

    table: dict[str, dict] = {}

    def step(kind: str, rec: object, write: bool = True) -> list[str]:
        outs, new = apply_record(assistant, kind, rec, table.get("w1"))
        if write and new is not None:
            table["w1"] = json.loads(json.dumps(new))  # the table's JSON codec
        return [a["alert_id"] for a in outs.alerts] + [s["suggestion_id"] for s in outs.suggestions]

    step("events", CallEvent(call_id="w1", kind="started", ts=1000.0, agent_id="a1"))
    step("emotion", EmotionReading(call_id="w1", channel="customer", window_id="w1:c:0", start=0.0, end=2.0,
                                   state="neutral", arousal=0.2, probs={"neutral": 0.9}))
    risky = TranscriptSegment(call_id="w1", channel="agent", segment_id="s1", is_final=True, start=2.0, end=5.0,
                              text="这个产品是保本保息的", language="zh")
    stored = copy.deepcopy(table["w1"])
    first = step("transcripts", risky, write=False)  # crash: outputs never acknowledged, table not written
    assert first == ["AG_GUARANTEED_RETURN:s1"] and table["w1"] == stored
    assert step("transcripts", risky) == first  # the replay emits the alert again
    assert step("transcripts", risky) == []  # and once its state is saved, a redelivery is a duplicate
