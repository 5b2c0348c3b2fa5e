"""The assist pipeline for one call (KB + rules + strategy + risk), as the worker runs it."""

from __future__ import annotations

import pytest

from streams.assist.assistant import Assistant
from streams.assist.callstate import CallState, EmotionPoint
from streams.matching.segment import Segment

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def assistant() -> Assistant:
    return Assistant.from_files()


def seg(n: int, channel: str, t: float, text: str, lang: str = "zh") -> Segment:
    return Segment(f"s{n}", channel, t, t + 3.0, text, lang, produced_at=1000.0 + n)


def test_customer_question_gets_a_scored_suggestion_with_evidence(assistant: Assistant) -> None:
    st = CallState("c1")
    out = assistant.on_segment(st, seg(1, "customer", 5, "我刚才出车祸了，车被撞了要怎么报案"))
    [s] = out.suggestions
    assert (s["kind"], s["intent"]) == ("kb", "claim_report")
    assert s["score"] >= 0.45 and "报案" in s["matched"] and s["evidence"].startswith("我刚才出车祸")
    assert s["links"] and s["kb_version"] == assistant.kb.current.version and s["source_produced_at"] == 1001.0
    assert "48小时" in s["text"]  # the Mandarin answer for a Mandarin question


def test_same_entry_is_not_suggested_again_in_the_call(assistant: Assistant) -> None:
    st = CallState("c2")
    first = assistant.on_segment(st, seg(1, "customer", 5, "How do I report a car accident claim?", "en"))
    again = assistant.on_segment(st, seg(2, "customer", 12, "I had a crash, how do I file a claim?", "en"))
    assert [s["intent"] for s in first.suggestions] == ["claim_report"]
    assert again.suggestions == []


def test_agent_speech_and_chit_chat_get_no_kb_suggestion(assistant: Assistant) -> None:
    st = CallState("c3")
    assert assistant.on_segment(st, seg(1, "agent", 1, "我要退保怎么办")).suggestions == []
    assert assistant.on_segment(st, seg(2, "customer", 5, "好的谢谢")).suggestions == []


def test_duplicate_segment_produces_nothing(assistant: Assistant) -> None:
    st = CallState("c4")
    s = seg(1, "agent", 1, "您好，这个产品是保本保息的")
    first = assistant.on_segment(st, s)
    assert [a["rule_id"] for a in first.alerts] == ["AG_GUARANTEED_RETURN"]
    a = first.alerts[0]
    assert a["rules_version"] == assistant.rules.current.version and a["source_produced_at"] == 1001.0
    assert a["evidence"] == "保本保息" and a["call_id"] == "c4"
    assert not assistant.on_segment(st, s)


def test_angry_customer_who_wants_to_cancel_gets_retention_not_the_cancellation_link(assistant: Assistant) -> None:
    st = CallState("c5")
    assistant.on_emotion(st, EmotionPoint("c5:customer:1", "customer", 3, 5, "angry", 0.85))
    out = assistant.on_segment(st, seg(1, "customer", 3, "我要退保，马上给我退掉"))
    assert [(s["kind"], s["suggestion_id"].split(":")[-1]) for s in out.suggestions] == [
        ("strategy", "angry_cancel_retention")
    ]
    assert "voice: angry" in out.suggestions[0]["evidence"]
    later = assistant.on_segment(st, seg(2, "customer", 20, "退保能退多少钱"))
    assert all(s["intent"] != "cancel_policy" for s in later.suggestions)


def test_calm_customer_who_wants_to_cancel_gets_the_cancellation_answer(assistant: Assistant) -> None:
    st = CallState("c6")
    assistant.on_emotion(st, EmotionPoint("c6:customer:1", "customer", 3, 5, "neutral", 0.2))
    out = assistant.on_segment(st, seg(1, "customer", 3, "我想退保，退保能退多少钱"))
    assert [(s["kind"], s["intent"]) for s in out.suggestions] == [("kb", "cancel_policy")]
    assert "cancellation-form" in out.suggestions[0]["links"][0]


def test_words_alone_can_show_agitation(assistant: Assistant) -> None:
    st = CallState("c7")
    out = assistant.on_segment(st, seg(1, "customer", 3, "I want to cancel my policy, this is ridiculous", "en"))
    assert [s["suggestion_id"].split(":")[-1] for s in out.suggestions] == ["angry_cancel_retention"]
    assert "ridiculous" in out.suggestions[0]["evidence"]


def test_emotion_reading_becomes_emotion_state_with_trend(assistant: Assistant) -> None:
    st = CallState("c8")
    outs = [assistant.on_emotion(st, EmotionPoint(f"c8:customer:{i}", "customer", i, i + 2, "neutral", a))
            for i, a in enumerate([0.1, 0.1, 0.2, 0.5, 0.6])]
    e = outs[-1].emotion
    assert e is not None and e["trend"] == "rising" and e["channel"] == "customer" and e["at"] == 6
    assert not assistant.on_emotion(st, EmotionPoint("c8:customer:4", "customer", 4, 6, "neutral", 0.6))


def test_call_end_scores_risk_and_duplicate_end_resends_summary_without_new_alerts(assistant: Assistant) -> None:
    st = CallState("c9")
    assistant.on_event(st, "started", ts=100.0, meta={"agent_id": "a1", "queue": "claims"})
    assistant.on_segment(st, seg(1, "agent", 1, "喂"))
    assistant.on_segment(st, seg(2, "customer", 30, "我要去银保监会投诉你们"))
    end = assistant.on_event(st, "ended", ts=200.0, duration=70.0)
    assert {a["rule_id"] for a in end.alerts} >= {"RQ_CLOSING", "RQ_RECORDING_DISCLOSURE"}
    summary = end.summary
    assert summary is not None and summary["agent_id"] == "a1" and summary["queue"] == "claims"
    assert summary["risk_level"] in ("medium", "high", "critical") and summary["reasons"]
    assert summary["rules_version"] and len(summary["transcript"]) == 2
    again = assistant.on_event(st, "ended", ts=200.0, duration=70.0)
    assert again.alerts == [] and again.summary == summary


def test_late_segment_after_hang_up_updates_the_summary(assistant: Assistant) -> None:
    st = CallState("c10")
    assistant.on_segment(st, seg(1, "agent", 1, "您好"))
    assistant.on_event(st, "ended", ts=10.0, duration=10.0)
    late = assistant.on_segment(st, seg(2, "customer", 6, "我要找律师起诉你们"))
    assert [a["rule_id"] for a in late.alerts] == ["CU_LEGAL"]
    assert late.summary is not None and late.summary["alerts"][-1]["rule_id"] == "CU_LEGAL"
    # a late final that triggers nothing still reaches the QA record
    quiet = assistant.on_segment(st, seg(3, "agent", 8, "好的"))
    assert quiet.alerts == [] and quiet.summary is not None
    assert [t["segment_id"] for t in quiet.summary["transcript"]][-1] == st.segments[-1].segment_id
