"""Response strategies fire only on strong evidence of intent and emotion, and say why."""

from __future__ import annotations

import pytest

from streams.assist.assistant import Assistant
from streams.assist.callstate import CallState, EmotionPoint
from streams.matching.segment import Segment

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def assistant() -> Assistant:
    return Assistant.from_files()


def strategies(outs: list) -> list[dict]:
    return [s for o in outs for s in o.suggestions if s["kind"] == "strategy"]


def test_no_ambulance_on_a_polite_question(assistant: Assistant) -> None:
    st = CallState("p1")
    outs = [assistant.on_emotion(st, EmotionPoint("p1:c:1", "customer", 0, 2, "sad", 0.35)),
            assistant.on_segment(st, Segment("p1-1", "customer", 2, 6,
                                             "two weeks ago I got a car from your dealership", "en"))]
    assert not strategies(outs)
    assert not [s for o in outs for s in o.suggestions if s["intent"] == "claim_report"]


def test_distressed_caller_after_an_accident_gets_care_first_with_reasons(assistant: Assistant) -> None:
    st = CallState("p2")
    outs = [assistant.on_emotion(st, EmotionPoint("p2:c:1", "customer", 0, 2, "fearful", 0.8)),
            assistant.on_segment(st, Segment("p2-1", "customer", 2, 6,
                                             "I had a car accident, someone hit my car, how do I file a claim", "en"))]
    (s,) = strategies(outs)
    assert s["suggestion_id"].endswith("distressed_claim_empathy")
    assert "claim_report" in s["why"] and "fearful" in s["why"] and s["score"] >= 0.75
    kb = [x for o in outs for x in o.suggestions if x["kind"] == "kb"]
    assert kb and kb[0]["why"].startswith("confidence") and kb[0]["score"] >= 0.5


def test_a_weak_intent_does_not_trigger_an_intent_strategy(assistant: Assistant) -> None:
    st = CallState("p3")
    # an ASR fragment that barely resembles "please speak slowly": no elderly-customer strategy
    outs = [assistant.on_segment(st, Segment("p3-1", "customer", 2, 3, "T.I", "en")),
            assistant.on_segment(st, Segment("p3-2", "customer", 4, 9, "这个线路的话你要注意一下", "zh"))]
    assert not strategies(outs)
