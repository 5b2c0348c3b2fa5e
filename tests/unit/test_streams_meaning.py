"""ASR-tolerant compliance matching must never flip meaning, and must say how sure it is.

The cases are the known false accusations on real ASR text (issue 19) and the polarity
pairs the rules must keep apart: no/your, 不/一定, 能/不能, negation before a phrase."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.assist.assistant import Assistant
from streams.assist.callstate import CallState
from streams.assist.check import evaluate_dir
from streams.compliance.engine import ComplianceEngine
from streams.compliance.rules import load_rules
from streams.compliance.source import DEFAULT_RULES
from streams.matching.meaning import negated_before, same_meaning
from streams.matching.segment import Segment
from streams.matching.text import normalize

pytestmark = pytest.mark.unit

REAL_ASR = Path(__file__).resolve().parents[1] / "data" / "real_asr"


@pytest.fixture(scope="module")
def engine() -> ComplianceEngine:
    return ComplianceEngine(load_rules(DEFAULT_RULES))


def rules_found(engine: ComplianceEngine, text: str) -> set[str]:
    return {m.key for m in engine.matcher.find(normalize(text)) if m.key.startswith("forbidden:")}


def alerts(engine: ComplianceEngine, text: str, channel: str = "agent", start: float = 5.0) -> list:
    state = CallState("c1")
    s = Segment("s1", channel, start, start + 3.0, text, "")
    state.add_segment(s)
    return engine.on_segment(state, s)


def test_meaning_words() -> None:
    assert not same_meaning("that s your problem", "s no problem")
    assert not same_meaning("guaranteed returns", "guaranteed no returns")
    assert not same_meaning("not my problem", "s my problem")
    assert same_meaning("you can t lose", "cant lose")
    assert not same_meaning("绝对不会亏", "绝对会亏")
    assert negated_before("不一定能赚", 1) and not negated_before("这个一定能赚", 2)
    assert negated_before("i did not say risk free", len("i did not say "))
    assert not negated_before("risk free", 0)


@pytest.mark.parametrize("said", ["s no problem", "that's no problem", "thats no problem", "it s no problem at all",
                                  "no problem, that's fine"])
def test_no_problem_is_never_that_is_your_problem(engine: ComplianceEngine, said: str) -> None:
    assert "forbidden:AG_ABUSIVE" not in rules_found(engine, said)


def test_the_real_phrase_still_fires_as_a_violation_with_method_and_score(engine: ComplianceEngine) -> None:
    (a,) = alerts(engine, "well that's your problem, not mine")
    assert (a.rule_id, a.status, a.match_method, a.match_score) == ("AG_ABUSIVE", "violation", "exact", 1.0)
    assert "exact" in a.why and "that's your problem" in a.why


@pytest.mark.parametrize(("said", "rule"), [
    ("these are guaranteed no returns", "AG_GUARANTEED_RETURN"),
    ("绝对会亏的，您要想清楚", "AG_GUARANTEED_RETURN"),
    ("这个一定不能赚钱", "AG_GUARANTEED_RETURN"),
    ("it's my problem to sort out", "AG_ABUSIVE"),
    ("you can lose money on this", "AG_GUARANTEED_RETURN"),
])
def test_a_substitution_that_flips_polarity_or_person_is_no_match(engine: ComplianceEngine, said: str,
                                                                   rule: str) -> None:
    assert f"forbidden:{rule}" not in rules_found(engine, said)


def test_asr_variants_of_the_forbidden_phrase_still_match(engine: ComplianceEngine) -> None:
    assert "forbidden:AG_ABUSIVE" in rules_found(engine, "thats your problem")
    assert "forbidden:AG_GUARANTEED_RETURN" in rules_found(engine, "you cant lose")
    assert "forbidden:AG_GUARANTEED_RETURN" in rules_found(engine, "这个产品保本保息")


def test_a_phrase_under_a_negation_is_a_check_not_a_violation(engine: ComplianceEngine) -> None:
    (a,) = alerts(engine, "这个产品不一定能赚")
    assert a.status == "check" and "negation" in a.why


def test_except_phrases_hold_across_asr_errors(engine: ComplianceEngine) -> None:
    assert not [a for a in alerts(engine, "returns are not guarantied returns vary") if a.status == "violation"]
    assert not alerts(engine, "这个产品不保本保息")


def test_low_score_fuzzy_match_is_a_check(engine: ComplianceEngine) -> None:
    found = [a for a in alerts(engine, "我们这个产品只赚不快") if a.rule_id == "AG_GUARANTEED_RETURN"]
    assert found and found[0].match_method == "fuzzy" and found[0].status == "check"
    assert found[0].match_score < 0.95


@pytest.mark.parametrize("asked", [
    "Jack, what was your last name so I can look out for the system?",  # the bundled call, as ASR wrote it
    "could I have your date of birth please",
    "and your policy number, please",
    "请问您贵姓",
    "您的保单号是多少",
])
def test_asking_name_birth_date_or_policy_number_is_an_identity_check(engine: ComplianceEngine, asked: str) -> None:
    state = CallState("c1")
    for s in (Segment("s1", "agent", 1.0, 3.0, "hello, thanks for calling", ""),
              Segment("s2", "agent", 40.0, 44.0, asked, "")):
        state.add_segment(s)
        engine.on_segment(state, s)
    state.call_time = 200.0
    assert "RQ_IDENTITY_CHECK" not in {a.rule_id for a in engine.on_time(state) + engine.on_end(state, 200.0)}


def test_an_identity_check_missing_still_fires_and_says_why(engine: ComplianceEngine) -> None:
    state = CallState("c1")
    for s in (Segment("s1", "agent", 1.0, 3.0, "hello, thanks for calling", ""),
              Segment("s2", "agent", 40.0, 44.0, "what is the name of the model you bought", ""),
              Segment("s3", "agent", 60.0, 64.0, "my name is Michelle", "")):
        state.add_segment(s)
        engine.on_segment(state, s)
    state.call_time = 200.0
    (a,) = [a for a in engine.on_time(state) + engine.on_end(state, 200.0) if a.rule_id == "RQ_IDENTITY_CHECK"]
    assert a.match_method == "absent" and "identity question" in a.why


def test_real_asr_transcripts_alert_precision_and_silence() -> None:
    """The annotated real ASR set (tests/data/real_asr): floor, not a tuned target."""
    r = evaluate_dir(Assistant.from_files(), REAL_ASR)
    assert r["alerts"]["violation_precision"] >= 0.95, r["alerts"]["false_positives"]
    assert r["alerts"]["recall"] == 1.0, r["alerts"]["false_negatives"]
    assert r["kb"]["false_suggestion_rate"] <= 0.03
    assert r["strategies"]["predicted"] == 0, r["strategies"]["false_positives"]
