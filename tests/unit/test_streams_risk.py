"""Call risk score (streams.assist.risk)."""

from __future__ import annotations

import pytest

from streams.assist.callstate import CallState, EmotionMark
from streams.assist.risk import level_of, score_call

pytestmark = pytest.mark.unit


def _alert(rule: str, severity: str, t: float = 1.0, kind: str = "forbidden") -> dict:
    return {"alert_id": f"{rule}:{t}", "rule_id": rule, "severity": severity, "channel": "agent",
            "rule_kind": kind, "evidence": "said this", "evidence_start": t}


def _state(*alerts: dict) -> CallState:
    st = CallState("c")
    for a in alerts:
        st.add_alert(a)
    return st


def test_clean_call_is_low_risk_with_no_reasons() -> None:
    r = score_call(_state())
    assert (r.score, r.level, r.reasons) == (0.0, "low", [])


def test_every_finding_raises_the_score_and_one_critical_outranks_several_lows() -> None:
    one_low = score_call(_state(_alert("A", "low"))).score
    two_low = score_call(_state(_alert("A", "low"), _alert("B", "low", 2))).score
    critical = score_call(_state(_alert("C", "critical"))).score
    three_low = score_call(_state(_alert("A", "low"), _alert("B", "low", 2), _alert("D", "low", 3))).score
    assert 0 < one_low < two_low < three_low < critical <= 100


def test_repeats_of_one_rule_count_less_and_are_summarised() -> None:
    r = score_call(_state(*[_alert("A", "high", t) for t in (1, 2, 3)]))
    distinct = score_call(_state(_alert("A", "high"), _alert("B", "high", 2), _alert("C", "high", 3)))
    assert r.score < distinct.score
    assert r.reasons[0].startswith("high A (agent) at 1s") and "A fired 3 times" in r.reasons


def test_angry_customer_adds_risk_with_reasons() -> None:
    st = CallState("c")
    st.emotion = [EmotionMark("customer", t, s, a)
                  for t, s, a in ((2, "neutral", 0.2), (4, "angry", 0.9), (6, "angry", 0.8))]
    r = score_call(st)
    assert r.score > 30 and any("67%" in x for x in r.reasons) and any("at the end" in x for x in r.reasons)


@pytest.mark.parametrize(("score", "level"), [(0, "low"), (19.9, "low"), (20, "medium"), (50, "high"), (90, "critical")])
def test_levels(score: float, level: str) -> None:
    assert level_of(score) == level


def test_reasons_are_data_with_the_same_sentences() -> None:
    st = _state(_alert("A", "high", 12.0), _alert("A", "high", 20.0), _alert("A", "high", 30.0),
                {**_alert("B", "low", 5.0), "status": "check"},
                _alert("MISS", "medium", 0.0, kind="required_missing"))
    st.emotion = [EmotionMark("customer", t, s, a)
                  for t, s, a in ((2, "neutral", 0.2), (4, "angry", 0.9), (6, "angry", 0.8))]
    st.strategy.cue_at, st.strategy.cue_text = 7.5, "投诉"
    r = score_call(st)
    assert r.reasons == [f.text for f in r.findings]
    by = {(f.code, f.rule_id): f for f in r.findings}
    a = by[("alert", "A")]
    assert (a.severity, a.channel, a.status, a.at, a.evidence) == ("high", "agent", "violation", 12.0, "said this")
    assert a.text == "high A (agent) at 12s: \u201csaid this\u201d"
    assert by[("alert", "B")].status == "check" and "(check)" in by[("alert", "B")].text
    missing = by[("alert", "MISS")]
    assert (missing.at, missing.evidence, missing.text) == (-1.0, "", "medium MISS (agent)")
    rep = by[("repeated", "A")]
    assert (rep.value, rep.text, rep.severity) == (3.0, "A fired 3 times", "high")
    share = by[("agitated_share", "")]
    assert share.value == pytest.approx(2 / 3, abs=1e-3) and share.channel == "customer"
    assert by[("agitated_end", "")].at == 6.0
    assert (by[("arousal_peak", "")].value, by[("arousal_peak", "")].at) == (0.9, 4.0)
    cue = by[("said_cue", "")]
    assert (cue.at, cue.evidence, cue.text) == (7.5, "投诉", "customer said \u201c投诉\u201d")


def test_risk_reasons_travel_in_the_call_summary_record() -> None:
    import json

    from streams.assist.assistant import Assistant
    from streams.contract.codec import decode
    from streams.contract.records import CallSummary
    from streams.worker.agents import summary_record

    st = _state(_alert("MISS", "medium", 0.0, kind="required_missing"), _alert("A", "high", 3.0))
    st.alerts = [dict(a, message="m", call_id="c") for a in st.alerts]
    st.strategy.cue_at, st.strategy.cue_text = 2.0, "投诉"
    summary = Assistant.summary(None, st)  # type: ignore[arg-type]  (uses no attribute of self)
    fields = list(summary["risk_reasons"][0])
    built = summary_record(summary)  # what the worker sends
    assert [{k: getattr(r, k) for k in fields} for r in built.risk_reasons] == summary["risk_reasons"]
    back = decode(CallSummary, json.loads(json.dumps(summary)))  # the strict wire check
    assert [{k: getattr(r, k) for k in fields} for r in back.risk_reasons] == summary["risk_reasons"]
    assert back.reasons == [r.text for r in back.risk_reasons]
    assert {r.code for r in back.risk_reasons} == {"alert", "said_cue"}
    assert min(r.at for r in back.risk_reasons) == -1.0  # "no time" survives the strict decode
    # an older summary without the field still decodes
    old = {k: v for k, v in summary.items() if k != "risk_reasons"}
    assert decode(CallSummary, json.loads(json.dumps(old))).risk_reasons == []
