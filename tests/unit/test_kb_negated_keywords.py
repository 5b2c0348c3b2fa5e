"""A KB keyword said under a negation ("I have no complaints", 没有投诉) is no evidence for an
entry marked ``denied_keywords_count: false`` (streams.kb.index): the complaint article is not
suggested to a caller who says they have none; it still wins when the keyword is said plainly,
and unmarked entries (coverage) keep their denied keywords."""

from __future__ import annotations

import pytest

from streams.kb.index import KBIndex
from streams.kb.model import load_kb
from streams.kb.source import DEFAULT_KB

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def index() -> KBIndex:
    return KBIndex(load_kb(DEFAULT_KB))


def _suggested(index: KBIndex, text: str) -> set[str]:
    return {h.entry.intent for h in index.search(text) if h.score >= index.kb.settings.min_score}


@pytest.mark.parametrize("text", ["Hi, I have no complaints about the service, I just want to understand what my policy covers.",
                                  "我没有投诉的意思，就想问一下我的保单保障范围是什么"])
def test_a_denied_keyword_does_not_suggest_its_entry(index: KBIndex, text: str) -> None:
    got = _suggested(index, text)
    assert "complaint" not in got
    assert "coverage_question" in got  # what the caller did ask


@pytest.mark.parametrize("text", ["your service is terrible, I want to make a complaint", "我要投诉你们"])
def test_the_same_keyword_said_plainly_still_does(index: KBIndex, text: str) -> None:
    assert "complaint" in _suggested(index, text)


def test_the_keyword_is_found_again_without_the_negation(index: KBIndex) -> None:
    denied = index.search("no complaints")
    said = index.search("complaints")
    score = {h.entry.intent: h.raw_score for h in denied}.get("complaint", 0.0)
    assert {h.entry.intent: h.raw_score for h in said}["complaint"] > score


@pytest.mark.parametrize("text", ["is hospital treatment not covered by my policy?", "这个不在保障范围内吗"])
def test_entries_without_the_flag_keep_their_denied_keywords(index: KBIndex, text: str) -> None:
    # a coverage question is still one when it is asked in the negative
    assert all(e.denied_keywords_count for e in index.kb.entries if e.intent == "coverage_question")
    assert "coverage_question" in _suggested(index, text)
