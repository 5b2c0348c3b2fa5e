"""Call risk score (streams.assist.risk)."""

from __future__ import annotations

import pytest

from streams.assist.callstate import CallState
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
    st.emotion = [{"channel": "customer", "at": t, "state": s, "arousal": a, "trend": "steady"}
                  for t, s, a in ((2, "neutral", 0.2), (4, "angry", 0.9), (6, "angry", 0.8))]
    r = score_call(st)
    assert r.score > 30 and any("67%" in x for x in r.reasons) and any("at the end" in x for x in r.reasons)


@pytest.mark.parametrize(("score", "level"), [(0, "low"), (19.9, "low"), (20, "medium"), (50, "high"), (90, "critical")])
def test_levels(score: float, level: str) -> None:
    assert level_of(score) == level
