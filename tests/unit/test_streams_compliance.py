"""Compliance engine: forbidden, required-by-deadline and ordering rules over a call."""

from __future__ import annotations

import pytest

from streams.assist.callstate import CallState
from streams.compliance.engine import ComplianceEngine
from streams.compliance.rules import parse_rules
from streams.contract.records import Word
from streams.matching.segment import Segment

pytestmark = pytest.mark.unit

RULES = {
    "version": "t1",
    "defaults": {"deadline_grace_s": 5},
    "rules": [
        {"id": "GUAR", "kind": "forbidden", "channel": "agent", "severity": "critical", "message": {"en": "m"},
         "phrases": {"zh": ["保本保息"], "en": ["guaranteed returns"]},
         "except": {"zh": ["不保本"], "en": ["no guaranteed"]}},
        {"id": "LAW", "kind": "forbidden", "channel": "customer", "severity": "high", "message": {"en": "m"},
         "phrases": {"en": ["lawyer"]}, "once_per_call": True},
        {"id": "HELLO", "kind": "required", "channel": "agent", "severity": "low", "message": {"en": "greet"},
         "phrases": {"en": ["hello"]}, "deadline_s": 10},
        {"id": "ID", "kind": "required", "channel": "agent", "severity": "high", "message": {"en": "id"},
         "phrases": {"en": ["date of birth"]}, "deadline_s": 100, "min_call_s": 50},
        {"id": "BYE", "kind": "required", "channel": "agent", "severity": "low", "message": {"en": "bye"},
         "phrases": {"en": ["goodbye"]}, "deadline_s": "end", "min_call_s": 30},
        {"id": "RISK_FIRST", "kind": "ordering", "channel": "agent", "severity": "critical", "message": {"en": "o"},
         "phrases": {"en": ["confirm the purchase"]}, "requires": {"phrases": {"en": ["risk disclosure"]}}},
        {"id": "ID_FIRST", "kind": "ordering", "channel": "agent", "severity": "high", "message": {"en": "o"},
         "phrases": {"en": ["your balance is"]}, "requires": {"rule": "ID"}},
    ],
}


@pytest.fixture(scope="module")
def engine() -> ComplianceEngine:
    return ComplianceEngine(parse_rules(RULES, b"raw"))


def seg(n: int, channel: str, start: float, end: float, text: str, words: list[Word] | None = None) -> Segment:
    return Segment(f"s{n}", channel, start, end, text, words=words or [])


def feed(engine: ComplianceEngine, state: CallState, s: Segment) -> list:
    assert state.add_segment(s)
    return engine.on_segment(state, s) + engine.on_time(state)


def test_forbidden_phrase_alert_carries_span_times_and_versions(engine: ComplianceEngine) -> None:
    st = CallState("c")
    words = [Word(start=2.0, end=2.4, text=" hello"), Word(start=2.4, end=3.0, text=" guaranteed"),
             Word(start=3.0, end=3.5, text=" returns!")]
    [a] = feed(engine, st, seg(1, "agent", 2.0, 3.5, "hello guaranteed returns!", words))
    assert (a.rule_id, a.severity, a.rule_kind, a.alert_id) == ("GUAR", "critical", "forbidden", "GUAR:s1")
    assert a.evidence == "guaranteed returns" and (a.evidence_start, a.evidence_end) == (2.4, 3.5)
    assert a.segment_id == "s1" and a.match_method == "exact"


def test_exception_phrase_suppresses_the_overlapping_match(engine: ComplianceEngine) -> None:
    st = CallState("c")
    assert feed(engine, st, seg(1, "agent", 0, 3, "hello, 这个产品不保本保息")) == []
    assert feed(engine, st, seg(2, "agent", 3, 6, "there are no guaranteed returns")) == []
    [a] = feed(engine, st, seg(3, "agent", 6, 9, "但是另一个是保本包息的"))
    assert a.evidence == "保本包息" and a.match_method == "pinyin"


def test_rules_only_apply_to_their_channel_and_once_per_call_rules_fire_once(engine: ComplianceEngine) -> None:
    st = CallState("c")
    assert feed(engine, st, seg(1, "customer", 0, 2, "guaranteed returns please, hello")) == []
    assert [a.rule_id for a in feed(engine, st, seg(2, "customer", 2, 4, "I will call my lawyer"))] == ["LAW"]
    assert feed(engine, st, seg(3, "customer", 4, 6, "my lawyer again")) == []


def test_required_phrase_said_in_time_raises_nothing(engine: ComplianceEngine) -> None:
    st = CallState("c")
    assert feed(engine, st, seg(1, "agent", 1, 3, "Hello, how can I help")) == []
    assert feed(engine, st, seg(2, "agent", 20, 22, "ok")) == []


def test_required_phrase_missing_fires_once_when_the_channel_passes_the_deadline(engine: ComplianceEngine) -> None:
    st = CallState("c")
    assert feed(engine, st, seg(1, "agent", 1, 3, "yes what")) == []
    [a] = feed(engine, st, seg(2, "agent", 9, 11, "anything"))
    assert (a.rule_id, a.rule_kind, a.alert_id) == ("HELLO", "required_missing", "HELLO:deadline")
    assert a.evidence == "yes what anything" and a.evidence_end == 10  # what was searched, 0..deadline
    assert feed(engine, st, seg(3, "agent", 12, 13, "hello")) == []  # said late: no second alert


def test_deadline_waits_for_a_lagging_channel_then_fires_after_the_grace(engine: ComplianceEngine) -> None:
    st = CallState("c")
    # the customer's transcript is ahead of the agent's: the agent's greeting may still come
    assert feed(engine, st, seg(1, "customer", 9, 12, "anyone there")) == []
    assert feed(engine, st, seg(2, "agent", 2, 4, "hello")) == []
    st2 = CallState("d")
    assert feed(engine, st2, seg(1, "customer", 9, 12, "anyone there")) == []
    assert [a.rule_id for a in feed(engine, st2, seg(2, "customer", 13, 16, "hello?"))] == ["HELLO"]


def test_call_end_fires_end_deadlines_and_reached_deadlines_but_exempts_short_calls(engine: ComplianceEngine) -> None:
    st = CallState("c")
    feed(engine, st, seg(1, "agent", 1, 3, "hello"))
    feed(engine, st, seg(2, "customer", 50, 60, "ok"))
    assert sorted(a.rule_id for a in engine.on_end(st, 70.0)) == ["BYE"]  # ID: deadline 100 not reached
    short = CallState("d")
    feed(engine, short, seg(1, "agent", 1, 3, "hello"))
    assert engine.on_end(short, 20.0) == []  # shorter than BYE's min_call_s
    long = CallState("e")
    feed(engine, long, seg(1, "agent", 1, 3, "hello"))
    assert sorted(a.rule_id for a in engine.on_end(long, 130.0)) == ["BYE", "ID"]
    assert engine.on_end(long, 130.0) == []  # settled: never twice


def test_ordering_rule_needs_the_prerequisite_earlier(engine: ComplianceEngine) -> None:
    st = CallState("c")
    [a] = feed(engine, st, seg(1, "agent", 0, 4, "hello, let me confirm the purchase"))
    assert (a.rule_id, a.evidence) == ("RISK_FIRST", "confirm the purchase")
    ok = CallState("d")
    assert feed(engine, ok, seg(1, "agent", 0, 4, "hello, here is the risk disclosure, now confirm the purchase")) == []
    late = CallState("e")
    assert [a.rule_id for a in feed(engine, late, seg(1, "agent", 0, 4, "hello confirm the purchase then risk disclosure"))] == ["RISK_FIRST"]


def test_ordering_rule_on_a_required_rule(engine: ComplianceEngine) -> None:
    st = CallState("c")
    assert [a.rule_id for a in feed(engine, st, seg(1, "agent", 0, 3, "hello your balance is 20"))] == ["ID_FIRST"]
    ok = CallState("d")
    feed(engine, ok, seg(1, "agent", 0, 3, "hello, your date of birth please"))
    assert feed(engine, ok, seg(2, "agent", 4, 6, "thanks, your balance is 20")) == []


def test_same_input_gives_the_same_alert_ids(engine: ComplianceEngine) -> None:
    ids = []
    for _ in range(2):
        st = CallState("c")
        ids.append([a.alert_id for a in feed(engine, st, seg(7, "agent", 11, 13, "guaranteed returns"))])
    assert ids[0] == ids[1] == ["GUAR:s7", "HELLO:deadline"]
