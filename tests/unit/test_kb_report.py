"""The KB owners' report rates each entry, also when entries share an intent."""

from __future__ import annotations

import pytest

from assist_ui.kb_report import build_report
from streams.assist.assistant import Assistant

pytestmark = pytest.mark.unit


def test_two_entries_of_one_intent_get_a_row_each_and_old_rows_keep_theirs() -> None:
    suggested = [
        {"kind": "kb", "entry_id": "card_lost_app", "intent": "card_lost", "title": "Lost card: freeze in the app",
         "suggested": 4},
        {"kind": "kb", "entry_id": "card_lost_branch", "intent": "card_lost", "title": "Lost card: at a branch",
         "suggested": 2},
        {"kind": "kb", "entry_id": "", "intent": "card_lost", "title": "Lost card", "suggested": 1},  # before v6
    ]
    feedback = [
        {"kind": "kb", "entry_id": "card_lost_app", "intent": "card_lost", "title": "", "useful": 3, "not_useful": 0},
        {"kind": "kb", "entry_id": "card_lost_branch", "intent": "card_lost", "title": "", "useful": 0,
         "not_useful": 2},
    ]
    rows = {r["entry_id"]: r for r in build_report(suggested, feedback)}
    assert set(rows) == {"card_lost_app", "card_lost_branch", ""}
    assert (rows["card_lost_app"]["hit_rate"], rows["card_lost_branch"]["hit_rate"]) == (0.75, 0.0)
    assert rows["card_lost_app"]["title"] == "Lost card: freeze in the app"
    assert build_report(suggested, feedback)[0]["entry_id"] == "card_lost_branch"  # worst first


def test_suggestions_name_their_kb_entry_and_strategy() -> None:
    from streams.assist.callstate import CallState
    from streams.matching.segment import Segment

    assistant = Assistant.from_files()
    state = CallState("c1")
    out = assistant.on_segment(state, Segment("s1", "customer", 0.0, 4.0, "I lost my card, can you block my card?",
                                              "en"))
    kb = [s for s in out.suggestions if s["kind"] == "kb"]
    assert kb and all(s["entry_id"] for s in kb)
    assert kb[0]["entry_id"] == "card_lost" and kb[0]["suggestion_id"].startswith("c1:kb:card_lost:")


def test_a_row_from_before_entry_ids_joins_the_one_entry_of_its_intent() -> None:
    suggested = [{"kind": "kb", "entry_id": "wealth_refund", "intent": "refund", "title": "Refunds", "suggested": 2}]
    feedback = [{"kind": "kb", "entry_id": "", "intent": "refund", "title": "", "useful": 1, "not_useful": 0}]
    (row,) = build_report(suggested, feedback)
    assert (row["entry_id"], row["suggested"], row["useful"], row["hit_rate"]) == ("wealth_refund", 2, 1, 0.5)
