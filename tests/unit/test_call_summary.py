"""The rule-based call summary: reason, asks, commitments, outcome, alerts, emotion arc (zh + en)."""

from __future__ import annotations

import pytest

from assist_ui.call_summary import call_intent_gold, summarise

pytestmark = pytest.mark.unit


def _seg(i: int, ch: str, start: float, text: str, lang: str) -> dict:
    return {"segment_id": f"s{i}", "channel": ch, "start": start, "end": start + 3, "text": text, "language": lang}


def test_mandarin_call_summary() -> None:
    call = {"language": "zh", "transcript": [
        _seg(0, "agent", 0, "您好，这里是星河保险客服，请问有什么可以帮您？", "zh"),
        _seg(1, "customer", 4, "我上个月买的理财产品亏了，我要退款。", "zh"),
        _seg(2, "agent", 8, "非常抱歉，我马上为您登记退款申请，三个工作日内给您回电。", "zh"),
        _seg(3, "customer", 12, "好的，那就这样吧。", "zh")],
        "suggestions": [{"kind": "kb", "intent": "refund_policy", "title": "理财产品退款政策", "segment_id": "s1"},
                        {"kind": "strategy", "intent": "angry", "title": "安抚", "segment_id": "s1"}],
        "alerts": [{"rule_id": "A", "severity": "high", "message": "m1"}, {"rule_id": "B", "severity": "critical", "message": "m2"}],
        "emotion": [{"channel": "customer", "at": t, "arousal": a} for t, a in ((1, 0.3), (5, 0.8), (9, 0.7), (13, 0.3))]}
    s = summarise(call)
    assert s["language"] == "zh"
    assert s["reason"] == {"intent": "refund_policy", "title": "理财产品退款政策", "said": "我上个月买的理财产品亏了，我要退款。"}
    assert [a["text"] for a in s["customer_asked"]] == ["我上个月买的理财产品亏了，我要退款。"]
    (c,) = s["agent_committed"]
    assert set(c["kinds"]) == {"refund", "escalation", "callback"} and "回电" in c["labels"]
    assert s["outcome"] == "follow_up" and s["outcome_label"] == "待跟进"
    assert [a["severity"] for a in s["alerts"]] == ["critical", "high"]
    assert s["emotion"]["arc"] == "de_escalated" and s["emotion"]["label"] == "情绪缓和"


def test_english_call_summary_without_kb_hit() -> None:
    call = {"language": "", "transcript": [
        _seg(0, "customer", 0, "Hi, I'd like to know why my premium went up this year?", "en"),
        _seg(1, "agent", 4, "I checked your policy. The change is the annual index. That's everything, all sorted.", "en"),
        _seg(2, "customer", 8, "Okay thanks.", "en")], "suggestions": [], "alerts": [], "emotion": []}
    s = summarise(call)
    assert s["language"] == "en" and s["reason"]["intent"] == "" and s["reason"]["said"].startswith("Hi, I'd like")
    assert len(s["customer_asked"]) == 1 and s["agent_committed"] == []
    assert s["outcome"] == "resolved"
    assert s["emotion"]["arc"] == "calm" and s["emotion"]["evidence"] == "words"  # no voice readings: the words alone


def test_gold_reason_is_the_first_customer_intent() -> None:
    lines = [{"segment_id": "a", "channel": "customer", "start": 1, "gold_intent": "none"},
             {"channel": "customer", "start": 2, "arousal": 0.5},
             {"segment_id": "b", "channel": "customer", "start": 3, "gold_intent": "claim_status"},
             {"segment_id": "c", "channel": "customer", "start": 5, "gold_intent": "complaint"}]
    assert call_intent_gold(lines) == "claim_status"
    assert call_intent_gold(lines[:2]) == "none"
