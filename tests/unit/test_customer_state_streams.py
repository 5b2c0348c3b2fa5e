"""The fused customer state in the streams call state: words and voice, with reasons."""

from __future__ import annotations

import pytest

from streams.assist.assistant import Assistant
from streams.assist.callstate import CallState, EmotionPoint
from streams.contract.codec import decode
from streams.contract.records import EmotionState
from streams.matching.segment import Segment

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def assistant() -> Assistant:
    return Assistant.from_files()


def test_customer_words_then_voice_give_the_fused_state(assistant: Assistant) -> None:
    state = CallState("c1")
    calm = assistant.on_emotion(state, EmotionPoint("c1:customer:3", "customer", 0.0, 3.0, "neutral", 0.2))
    assert calm.emotion is not None and calm.emotion["customer_state"] == "neutral"
    out = assistant.on_segment(state, Segment("s1", "customer", 3.0, 6.0, "我要投诉你们"))
    assert out.emotion is not None
    assert out.emotion["customer_state"] == "upset"
    assert out.emotion["reasons"] == ["words: 投诉"]
    out = assistant.on_segment(state, Segment("s2", "customer", 6.0, 7.0, "不行我就打12378"))
    assert out.emotion is not None and out.emotion["customer_state"] == "agitated"  # complaint + threat
    loud = assistant.on_emotion(state, EmotionPoint("c1:customer:8", "customer", 5.0, 8.0, "neutral", 0.8))
    assert loud.emotion is not None
    assert loud.emotion["customer_state"] == "agitated"
    assert loud.emotion["reasons"] == ["voice raised", "words: 投诉, 12378"]
    # the output is a valid wire record (new fields are optional, with defaults)
    rec = EmotionState(**loud.emotion)
    assert decode(EmotionState, rec.to_bytes()).reasons == loud.emotion["reasons"]
    # the cues survive the table round trip
    again = CallState.from_dict(state.to_dict())
    assert again.valence == state.valence


def test_agent_words_do_not_count_and_calm_words_emit_nothing(assistant: Assistant) -> None:
    state = CallState("c2")
    assert assistant.on_segment(state, Segment("a1", "agent", 0.0, 2.0, "如需投诉请拨打12378")).emotion is None
    assert assistant.on_segment(state, Segment("s1", "customer", 2.0, 4.0, "好的，谢谢您")).emotion is None
    assert state.valence.cues == []
