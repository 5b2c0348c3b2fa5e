"""Alerts and suggestions from stable partial text: provisional, confirmed or retracted by the final."""

from __future__ import annotations

import pytest

from streams.assist import risk
from streams.assist.assistant import Assistant
from streams.assist.callstate import CallState
from streams.contract.records import Word
from streams.matching.segment import Segment

pytestmark = pytest.mark.unit

GUARANTEE = "This plan has guaranteed returns"


@pytest.fixture(scope="module")
def assistant() -> Assistant:
    return Assistant.from_files()


def partial(seg_id: str, text: str, stable: str, *, channel: str = "agent", t: float = 10.0,
            produced: float = 2000.0) -> tuple[Segment, int]:
    assert text.startswith(stable)
    words, pos = [], 0
    for i, w in enumerate(text.split(" ")):
        piece = (" " if i else "") + w
        words.append(Word(start=t + pos * 0.05, end=t + (pos + len(piece)) * 0.05, text=piece))
        pos += len(piece)
    return Segment(seg_id, channel, t, t + len(text) * 0.05, text, "en", words, produced), len(stable)


def final(seg_id: str, text: str, *, channel: str = "agent", t: float = 10.0) -> Segment:
    return Segment(seg_id, channel, t, t + len(text) * 0.05, text, "en", produced_at=2010.0)


def test_unstable_tail_raises_nothing_and_stable_phrase_raises_a_provisional_alert(assistant: Assistant) -> None:
    st = CallState("p1")
    assert not assistant.on_partial(st, *partial("p1:agent:10000", GUARANTEE + " and", "This plan has"))
    out = assistant.on_partial(st, *partial("p1:agent:10000", GUARANTEE + " and no", GUARANTEE))
    [a] = out.alerts
    assert (a["rule_id"], a["provisional"], a["alert_id"]) == ("AG_GUARANTEED_RETURN", True,
                                                                "AG_GUARANTEED_RETURN:p1:agent:10000")
    assert a["source_produced_at"] == 2000.0 and a["evidence"] == "guaranteed returns"
    # the same stable text again (a replayed or older partial) and a longer one: no second alert
    assert not assistant.on_partial(st, *partial("p1:agent:10000", GUARANTEE + " and no", GUARANTEE))
    assert not assistant.on_partial(st, *partial("p1:agent:10000", GUARANTEE + " and no fees", GUARANTEE + " and"))
    assert st.segments == [] and len(st.alerts) == 1  # the transcript stays final-only


def test_final_that_confirms_keeps_the_alert_id_and_sends_no_second_alert(assistant: Assistant) -> None:
    st = CallState("p2")
    [a] = assistant.on_partial(st, *partial("p2:agent:10000", GUARANTEE + " and", GUARANTEE)).alerts
    out = assistant.on_segment(st, final("p2:agent:10000", GUARANTEE + " and no fees."))
    assert out.alerts == []
    [upd] = out.alert_updates
    assert upd["alert_id"] == a["alert_id"] and upd["provisional"] is False and not upd.get("retracted")
    assert upd["source_produced_at"] == 2000.0  # latency is counted from the first warning
    assert [x["alert_id"] for x in st.alerts] == [a["alert_id"]] and st.partials == {}
    assert st.compliance.fired["AG_GUARANTEED_RETURN"] == 1
    assert risk.score_call(st).score > 0


def test_final_without_the_phrase_retracts_it_for_panel_and_qa(assistant: Assistant) -> None:
    st = CallState("p3")
    [a] = assistant.on_partial(st, *partial("p3:agent:10000", GUARANTEE + " and", GUARANTEE)).alerts
    out = assistant.on_segment(st, final("p3:agent:10000", "This plan has no guaranteed return at all."))
    [upd] = out.alert_updates
    assert upd["alert_id"] == a["alert_id"] and upd["retracted"] is True and upd["provisional"] is False
    summary = assistant.summary(st)
    [qa] = summary["alerts"]
    assert qa["retracted"] is True
    assert summary["risk_score"] == 0 and st.compliance.fired["AG_GUARANTEED_RETURN"] == 0


def test_unrelated_final_alerts_are_new_and_not_provisional(assistant: Assistant) -> None:
    st = CallState("p4")
    out = assistant.on_segment(st, final("p4:agent:10000", GUARANTEE + "."))
    [a] = out.alerts
    assert not a.get("provisional") and out.alert_updates == []


def test_required_phrase_counts_once_stable(assistant: Assistant) -> None:
    st = CallState("p5")
    text = "Hello, this call is recorded for quality and training"
    assistant.on_partial(st, *partial("p5:agent:1000", text, text, t=1.0))
    assert "RQ_RECORDING_DISCLOSURE" in st.compliance.satisfied
    # no final yet, and the deadline passes: no missing-disclosure alert
    out = assistant.on_segment(st, final("p5:agent:70000", "Anything else?", t=70.0))
    assert "RQ_RECORDING_DISCLOSURE" not in [a["rule_id"] for a in out.alerts]


def test_ordering_prerequisite_counts_once_stable(assistant: Assistant) -> None:
    st = CallState("p6")
    ask = "Can I have your date of birth please"
    assistant.on_partial(st, *partial("p6:agent:1000", ask, ask, t=1.0))
    out = assistant.on_segment(st, final("p6:agent:20000", "Thanks. Your balance is 300 dollars.", t=20.0))
    assert "OR_IDENTITY_BEFORE_ACCOUNT_INFO" not in [a["rule_id"] for a in out.alerts]


def test_suggestion_from_stable_text_is_not_repeated_by_the_final(assistant: Assistant) -> None:
    st = CallState("p7")
    q = "How do I report a car accident claim"
    out = assistant.on_partial(st, *partial("p7:customer:5000", q + " please", q, channel="customer", t=5.0))
    [s] = out.suggestions
    assert (s["kind"], s["intent"], s["provisional"]) == ("kb", "claim_report", True)
    assert not assistant.on_partial(st, *partial("p7:customer:5000", q + " please now", q + " please",
                                                 channel="customer", t=5.0)).suggestions
    fin = assistant.on_segment(st, final("p7:customer:5000", q + " please?", channel="customer", t=5.0))
    assert fin.suggestions == [] and len(st.suggestions) == 1


def test_partial_after_its_final_is_ignored(assistant: Assistant) -> None:
    st = CallState("p8")
    assistant.on_segment(st, final("p8:agent:10000", "Good morning."))
    assert not assistant.on_partial(st, *partial("p8:agent:10000", GUARANTEE, GUARANTEE))
    assert st.partials == {}


def test_state_with_provisional_alerts_survives_the_table_round_trip(assistant: Assistant) -> None:
    st = CallState("p9")
    assistant.on_partial(st, *partial("p9:agent:10000", GUARANTEE + " and", GUARANTEE))
    again = CallState.from_dict(st.to_dict())
    out = assistant.on_segment(again, final("p9:agent:10000", "Nothing is guaranteed here."))
    assert [u["retracted"] for u in out.alert_updates] == [True]
