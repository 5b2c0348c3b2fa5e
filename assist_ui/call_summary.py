"""A call summary without any LLM: extractive and rule-based, in the call's language.

From a stored call (the ``qa.calls`` summary: transcript, alerts, suggestions, emotion) it
builds: the reason for calling (the knowledge-base intent first raised by the customer's
words, with the utterance that raised it), what the customer asked (their requests and
questions, quoted), what the agent committed to (callbacks, documents, refunds,
escalations/tickets, follow-ups — quoted), the outcome (from commitments and closing words),
the alerts (by severity and rule) and the customer's emotion arc (voice and words:
``assist_ui.emotion_arc``). Everything quoted is the
already-redacted transcript text, so the summary holds no PII either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from assist_ui.emotion_arc import customer_arc
from streams.contract.vocab import severity_rank
from streams.matching.text import cjk_share
from streams.matching.valence import Lexicon

_ASK = {
    "zh": re.compile(r"[？?]|吗|能不能|可不可以|可以.*吗|怎么|为什么|请问|我要|我想|帮我|麻烦|希望|要求"),
    "en": re.compile(r"\?|\b(can|could|would) you\b|\bi (want|need|would like|'d like)\b|\bhow (do|can|long)\b|"
                     r"\bwhy\b|\bplease\b|\bi'm calling (about|to)\b", re.I),
}
_COMMIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "zh": [
        ("callback", re.compile(r"回电|回复您|给您回|联系您|回访")),
        ("documents", re.compile(r"发送|寄给|发给您|短信|邮件|材料|资料|单据")),
        ("refund", re.compile(r"退款|退还|退费|返还|退保")),
        ("escalation", re.compile(r"登记|工单|提交|上报|反馈给|转交|专员|加急")),
    ],
    "en": [
        ("callback", re.compile(r"\b(call you back|get back to you|ring you|follow up with you|contact you)\b", re.I)),
        ("documents", re.compile(r"\b(send|email|e-mail|mail|text) (you|it|the|a|over)\b|\bdocuments?\b|\bforms?\b", re.I)),
        ("refund", re.compile(r"\brefund(ed|s)?\b|\breimburs\w*|\bcredit (it|the|your)\b", re.I)),
        ("escalation", re.compile(r"\b(escalat\w*|raise a (ticket|case|complaint)|log (a|the|it)|ticket|supervisor|"
                                  r"specialist|manager)\b", re.I)),
    ],
}
_PROMISE = {
    "zh": re.compile(r"我(马上|这就|会|们会|帮您|给您|为您)|稍后|之内|尽快|今天|明天|工作日"),
    "en": re.compile(r"\b(i'll|i will|we'll|we will|i can|let me|i'm going to|within|by (tomorrow|today|monday|friday))\b",
                     re.I),
}
_RESOLVED = {
    "zh": re.compile(r"已经(办|处理|解决|帮您|为您)|办好了|处理好了|解决了|没问题了|成功"),
    "en": re.compile(r"\b(all set|sorted|resolved|taken care of|done|fixed|completed|that's everything)\b", re.I),
}
_UNRESOLVED = {
    "zh": re.compile(r"投诉|律师|起诉|不满意|没解决|太过分|退保"),
    "en": re.compile(r"\b(complain\w*|lawyer|sue|not happy|unacceptable|cancel\w*|ombudsman)\b", re.I),
}
_LABELS = {
    "zh": {"callback": "回电", "documents": "发送材料", "refund": "退款", "escalation": "登记/升级",
           "resolved": "已解决", "follow_up": "待跟进", "escalated": "已升级", "unresolved": "未解决",
           "calm": "平稳", "escalating": "情绪升级", "de_escalated": "情绪缓和", "upset_throughout": "始终不满", "unknown": "无数据"},
    "en": {"callback": "call back", "documents": "send documents", "refund": "refund", "escalation": "log / escalate",
           "resolved": "resolved", "follow_up": "follow-up pending", "escalated": "escalated", "unresolved": "unresolved",
           "calm": "calm", "escalating": "escalating", "de_escalated": "de-escalated", "upset_throughout": "upset throughout",
           "unknown": "no data"},
}


def _lang(call: Mapping[str, Any]) -> str:
    lang = str(call.get("language") or "")
    if lang in ("zh", "en"):
        return lang
    text = "".join(str(s.get("text", "")) for s in call.get("transcript") or [])
    return "zh" if cjk_share(text) > 0.2 else "en"


def _sentences(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"(?<=[。！？!?；;])\s*|(?<=\.)\s+", text) if p.strip()]


def reason_for_calling(call: Mapping[str, Any]) -> dict[str, Any]:
    """The first KB intent raised by a customer segment (suggestions keep their segment)."""
    segs = {s.get("segment_id"): s for s in call.get("transcript") or []}
    kb = [x for x in call.get("suggestions") or [] if x.get("kind") == "kb" and x.get("intent")]
    cust = [x for x in kb if (segs.get(x.get("segment_id")) or {}).get("channel") == "customer"]
    ordered = sorted(cust or kb, key=lambda x: float((segs.get(x.get("segment_id")) or {}).get("start", 1e9)))
    if ordered:
        first = ordered[0]
        said = (segs.get(first.get("segment_id")) or {}).get("text") or first.get("evidence", "")
        return {"intent": first["intent"], "title": first.get("title", ""), "said": said}
    opening = next((s for s in sorted(call.get("transcript") or [], key=lambda s: s.get("start", 0))
                    if s.get("channel") == "customer"), None)
    return {"intent": "", "title": "", "said": (opening or {}).get("text", "")}


def summarise(call: Mapping[str, Any], max_items: int = 5, lexicon: Lexicon | None = None) -> dict[str, Any]:
    lang = _lang(call)
    labels = _LABELS[lang]
    segs = sorted(call.get("transcript") or [], key=lambda s: s.get("start", 0))
    asked: list[dict[str, Any]] = []
    commitments: list[dict[str, Any]] = []
    for s in segs:
        for sentence in _sentences(str(s.get("text", ""))):
            if s.get("channel") == "customer" and _ASK[lang].search(sentence) and len(asked) < max_items:
                asked.append({"at": s.get("start", 0), "text": sentence})
            if s.get("channel") == "agent" and _PROMISE[lang].search(sentence):
                kinds = [k for k, rx in _COMMIT[lang] if rx.search(sentence)]
                if kinds and len(commitments) < max_items:
                    commitments.append({"at": s.get("start", 0), "kinds": kinds, "text": sentence,
                                        "labels": [labels[k] for k in kinds]})
    tail = " ".join(str(s.get("text", "")) for s in segs[-3:])
    kinds_all = {k for c in commitments for k in c["kinds"]}
    if "escalation" in kinds_all and _UNRESOLVED[lang].search(tail):
        outcome = "escalated"
    elif commitments:
        outcome = "follow_up"
    elif _RESOLVED[lang].search(tail):
        outcome = "resolved"
    else:
        outcome = "unresolved" if _UNRESOLVED[lang].search(tail) else "resolved"
    alerts = sorted(call.get("alerts") or [], key=lambda a: -severity_rank(a.get("severity", "")))
    arc = customer_arc(segs, call.get("emotion") or [], lexicon, lang)
    return {
        "language": lang,
        "reason": reason_for_calling(call),
        "customer_asked": asked,
        "agent_committed": commitments,
        "outcome": outcome,
        "outcome_label": labels[outcome],
        "alerts": [{"rule_id": a.get("rule_id", ""), "severity": a.get("severity", ""), "message": a.get("message", "")}
                   for a in alerts],
        "emotion": {**arc, "label": labels[arc["arc"]]},
    }


def call_intent_gold(lines: Sequence[Mapping[str, Any]]) -> str:
    """The annotated reason for calling of a dialogue: its first customer gold_intent other than "none"."""
    for line in sorted((x for x in lines if "segment_id" in x), key=lambda x: x.get("start", 0)):
        if line.get("channel") == "customer" and line.get("gold_intent") not in (None, "none"):
            return str(line["gold_intent"])
    return "none"
