"""Scripted sample calls as topic records, for trying the panels without audio or models.

``callassist ui sample`` publishes them to the configured topics in real time; the tests
feed the same records through the real broker.  They are sample *inputs* (what the ASR,
emotion and streams workers would produce), not expected outputs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from streams.contract.records import (
    Alert,
    CallEvent,
    CallSummary,
    EmotionState,
    Suggestion,
    TranscriptSegment,
)
from streams.contract.vocab import Channel, Severity


@dataclass(frozen=True)
class Step:
    at: float  # seconds after the call start
    topic: str  # a key of streams.contract.topics.TOPIC_RECORDS
    record: Any


# (speaker, start, end, text); the second element of a turn's partials is its final
_ZH_TURNS = [
    ("agent", 0.5, 3.0, "您好，这里是星河银行客服，请问有什么可以帮您？"),
    ("customer", 3.5, 8.0, "我上个月买的理财产品亏了，我要退款，你们太过分了！"),
    ("customer", 8.5, 13.0, "我的手机是13812345678，身份证号110101199003074518，赶紧处理。"),
    ("agent", 13.5, 18.0, "您别着急，这个产品我们保证收益，绝对不会亏的。"),
    ("customer", 18.5, 22.0, "你刚才还说保证收益，现在又亏了，我要投诉！"),
    ("agent", 22.5, 27.0, "非常抱歉给您带来不便，我马上为您登记退款申请。"),
]
_EN_TURNS = [
    ("agent", 0.5, 3.0, "Thank you for calling Northwind support, this is John. How can I help?"),
    ("customer", 3.5, 7.5, "Hi, I was charged twice for my subscription this month."),
    ("customer", 8.0, 12.0, "You can reach me at 415-555-2671 or jane.doe@example.com."),
    ("agent", 12.5, 16.0, "I'm sorry about that. I can see the duplicate charge and will refund it today."),
    ("customer", 16.5, 19.0, "Great, thank you so much."),
]


# what a CRM would send with the call (CallEvent.context, docs/ui.md "Call context")
_CONTEXT = {
    "zh": {"customer_name": "张伟", "customer_tier": "白金", "account_ref": "6222020200112233", "ivr_intent": "理财赎回"},
    "en": {"customer_name": "Jane Doe", "customer_tier": "gold", "account_ref": "ACC-55512345",
           "ivr_intent": "billing dispute"},
}


def _segments(call_id: str, turns: list[tuple[str, float, float, str]], language: str, t0: float) -> list[Step]:
    steps = []
    for i, (channel, start, end, text) in enumerate(turns):
        seg_id = f"{call_id}:{channel}:{i}"
        half = max(1, len(text) // 2)
        for rev, partial in enumerate((text[:half], text[: max(half, len(text) - 3)])):
            at = start + (end - start) * (rev + 1) / 3
            steps.append(Step(at, "transcripts", TranscriptSegment(
                call_id=call_id, channel=cast(Channel, channel), segment_id=seg_id, is_final=False, start=start, end=start + (at - start),
                text=partial, language=language, revision=rev, produced_at=t0 + at, audio_end_at=t0 + at)))
        steps.append(Step(end + 0.3, "transcripts", TranscriptSegment(
            call_id=call_id, channel=cast(Channel, channel), segment_id=seg_id, is_final=True, start=start, end=end, text=text,
            language=language, revision=2, produced_at=t0 + end + 0.3, audio_end_at=t0 + end)))
    return steps


def _emotion(call_id: str, arousals: list[float], t0: float, step: float = 3.0) -> list[Step]:
    out = []
    prev = arousals[0]
    for i, a in enumerate(arousals):
        at = step * (i + 1)
        trend = "rising" if a > prev + 0.05 else "falling" if a < prev - 0.05 else "steady"
        state = "angry" if a >= 0.65 else "neutral" if a < 0.45 else "agitated"
        out.append(Step(at, "assist_emotion", EmotionState(
            call_id=call_id, channel="customer", state=state, arousal=a, trend=trend,
            probs={"neutral": round(1 - a, 2), "angry": round(a, 2)}, at=at, produced_at=t0 + at)))
        prev = a
    return out


def sample_call(call_id: str, agent_id: str, language: str = "zh", t0: float | None = None) -> list[Step]:
    """The records of one scripted call, ordered by time (the last one is its qa.calls summary)."""
    t0 = time.time() if t0 is None else t0
    zh = language == "zh"
    turns = _ZH_TURNS if zh else _EN_TURNS
    steps = [Step(0.0, "events", CallEvent(call_id=call_id, kind="started", ts=t0, agent_id=agent_id,
                                           customer_id="13812345678" if zh else "cust-7781", queue="wealth" if zh else "billing",
                                           language=language, source="replay", context=_CONTEXT["zh" if zh else "en"]))]
    steps += _segments(call_id, turns, language, t0)
    if zh:
        steps += _emotion(call_id, [0.35, 0.62, 0.78, 0.84, 0.8, 0.66, 0.55, 0.5, 0.45], t0)
        seg = f"{call_id}:agent:3"
        steps.append(Step(18.2, "alerts", Alert(
            call_id=call_id, alert_id=f"forbidden.guaranteed_return:{seg}", rule_id="forbidden.guaranteed_return",
            rule_kind="forbidden", severity="high", channel="agent", message="禁止承诺收益 / Never promise guaranteed returns",
            evidence="保证收益", evidence_start=13.5, evidence_end=18.0, segment_id=seg, rules_version="r1",
            produced_at=t0 + 18.2, source_produced_at=t0 + 18.1)))
        steps.append(Step(8.2, "suggestions", Suggestion(
            call_id=call_id, suggestion_id=f"{call_id}:kb:refund", kind="kb", intent="refund", entry_id="wealth_refund",
            title="理财产品退款政策",
            text="您好，理财产品在犹豫期内可全额退款，超过犹豫期将按当日净值赎回，我可以先为您查询产品状态。",
            score=0.82, evidence="我要退款", segment_id=f"{call_id}:customer:1", language="zh", kb_version="kb1",
            produced_at=t0 + 8.2, source_produced_at=t0 + 8.1)))
        steps.append(Step(8.3, "suggestions", Suggestion(
            call_id=call_id, suggestion_id=f"{call_id}:strategy:deescalate", kind="strategy", intent="upset",
            entry_id="deescalate",
            title="安抚情绪 De-escalate", text="先共情并道歉，复述客户诉求，给出明确的处理时限，不要争辩。",
            score=0.9, evidence="你们太过分了", segment_id=f"{call_id}:customer:1", language="zh",
            produced_at=t0 + 8.3, source_produced_at=t0 + 8.1)))
        risk, level, reasons = 86.0, "high", ["违规承诺收益 (high)", "客户情绪持续激动", "客户表示要投诉"]
    else:
        steps += _emotion(call_id, [0.4, 0.45, 0.42, 0.35, 0.3, 0.25], t0)
        steps.append(Step(7.8, "suggestions", Suggestion(
            call_id=call_id, suggestion_id=f"{call_id}:kb:double-charge", kind="kb", intent="billing_dispute",
            entry_id="double_charge",
            title="Duplicate charge refund", text="I can see the duplicate charge. I'll refund it now; it takes 3-5 "
            "business days to appear on your statement.", score=0.77, evidence="charged twice",
            segment_id=f"{call_id}:customer:1", language="en", kb_version="kb1", produced_at=t0 + 7.8,
            source_produced_at=t0 + 7.7)))
        seg = f"{call_id}:agent:0"
        steps.append(Step(3.2, "alerts", Alert(
            call_id=call_id, alert_id=f"required.recording_notice:{seg}", rule_id="required.recording_notice",
            rule_kind="required_missing", severity="low", channel="agent",
            message="Recording notice not given in the opening", evidence="", evidence_start=0.5, evidence_end=3.0,
            segment_id=seg, rules_version="r1", produced_at=t0 + 3.2, source_produced_at=t0 + 3.1)))
        risk, level, reasons = 18.0, "low", ["required notice missing (low)"]
    duration = max(end for _c, _s, end, _t in turns) + 1.0
    steps.sort(key=lambda s: s.at)
    steps.append(Step(duration, "events", CallEvent(call_id=call_id, kind="ended", ts=t0 + duration, agent_id=agent_id,
                                                    reason="hangup", duration=duration)))
    steps.append(Step(duration + 0.5, "qa_calls", summary_of(call_id, agent_id, language, t0, duration, steps,
                                                             risk, level, reasons)))
    return steps


def summary_of(call_id: str, agent_id: str, language: str, t0: float, duration: float, steps: list[Step],
               risk: float, level: str, reasons: list[str]) -> CallSummary:
    start = next(s.record for s in steps if s.topic == "events")
    return CallSummary(
        call_id=call_id, agent_id=agent_id, customer_id=start.customer_id, queue=start.queue, language=language,
        started_at=t0, ended_at=t0 + duration, duration=duration, risk_score=risk, risk_level=level, reasons=reasons,
        transcript=[s.record for s in steps if s.topic == "transcripts" and s.record.is_final],
        alerts=[s.record for s in steps if s.topic == "alerts"],
        suggestions=[s.record for s in steps if s.topic == "suggestions"],
        emotion=[s.record for s in steps if s.topic == "assist_emotion"],
        kb_version="kb1", rules_version="r1")


_FLOOR_QUEUES = ("wealth", "billing", "cards", "claims")
_FLOOR_AGENTS = ("agent-1", "agent-2")
_FLOOR_SEVERITY = ("", "", "low", "medium", "", "high", "", "critical")


def floor_calls(n: int, t0: float | None = None, prefix: str = "floor") -> list[Step]:
    """``n`` live calls at once, as a busy floor looks on the wall: varied queues, agents (the
    first two are the demo agents, the rest ``agent-<i>``), languages, emotions and alerts.
    No call ends; one transcript final, one emotion state and (for some) one alert each."""
    t0 = time.time() if t0 is None else t0
    steps: list[Step] = []
    for i in range(n):
        call_id = f"{prefix}-{i:03d}"
        agent = _FLOOR_AGENTS[i] if i < len(_FLOOR_AGENTS) else f"agent-{i + 1}"
        zh = i % 3 != 2
        start = t0 - 30 - (i * 7) % 600
        steps.append(Step(0.0, "events", CallEvent(
            call_id=call_id, kind="started", ts=start, agent_id=agent, customer_id=f"cust-{1000 + i}",
            queue=_FLOOR_QUEUES[i % len(_FLOOR_QUEUES)], language="zh" if zh else "en", source="replay")))
        text = _ZH_TURNS[i % len(_ZH_TURNS)][3] if zh else _EN_TURNS[i % len(_EN_TURNS)][3]
        steps.append(Step(0.1, "transcripts", TranscriptSegment(
            call_id=call_id, channel="customer", segment_id=f"{call_id}:customer:0", is_final=True, start=1.0,
            end=4.0, text=text, language="zh" if zh else "en", revision=0, produced_at=t0, audio_end_at=t0)))
        arousal = round(0.2 + (i * 37 % 70) / 100, 2)
        state = "angry" if arousal >= 0.65 else "neutral" if arousal < 0.45 else "agitated"
        steps.append(Step(0.2, "assist_emotion", EmotionState(
            call_id=call_id, channel="customer", state=state, arousal=arousal, trend="steady",
            probs={"neutral": round(1 - arousal, 2), "angry": arousal}, at=5.0, produced_at=t0)))
        severity = _FLOOR_SEVERITY[i % len(_FLOOR_SEVERITY)]
        if severity:
            steps.append(Step(0.3, "alerts", Alert(
                call_id=call_id, alert_id=f"floor.rule:{call_id}", rule_id="floor.rule", rule_kind="forbidden",
                severity=cast(Severity, severity), channel="agent", message=f"{severity} alert on {call_id}", evidence="",
                evidence_start=1.0, evidence_end=4.0, segment_id=f"{call_id}:customer:0", rules_version="r1",
                produced_at=t0, source_produced_at=t0)))
    return steps
