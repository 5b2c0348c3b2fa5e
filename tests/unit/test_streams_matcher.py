"""Phrase matching robust to ASR errors (streams.matching.phrases)."""

from __future__ import annotations

import pytest

from streams.matching.phrases import PhraseMatcher, PhraseSpec
from streams.matching.text import normalize

pytestmark = pytest.mark.unit


def _find(phrases: list[str], text: str, **kw) -> list[tuple[str, str, str]]:
    m = PhraseMatcher([PhraseSpec(p, p, **kw) for p in phrases])
    n = normalize(text)
    return [(x.key, x.method, n.orig_text(x.start, x.end)) for x in m.find(n)]


def test_exact_match_respects_english_word_boundaries() -> None:
    assert _find(["sue"], "there is an issue with my bill") == []
    assert _find(["sue"], "I will sue you") == [("sue", "exact", "sue")]


def test_traditional_characters_and_spaces_match_with_original_evidence() -> None:
    assert _find(["保本保息"], "這個產品 保本 保息 的") == [("保本保息", "exact", "保本 保息")]


def test_pinyin_homophone_of_long_phrase() -> None:
    assert _find(["保本保息"], "这个是保本包息的") == [("保本保息", "pinyin", "保本包息")]


def test_two_character_phrase_needs_matching_tones() -> None:
    assert _find(["投诉"], "我要头诉你们") == [("投诉", "pinyin", "头诉")]  # tóu sù == tóu sù
    assert _find(["想死"], "好像是被偷了") == []  # xiàng shì is not xiǎng sǐ


def test_fuzzy_zh_allows_one_near_homophone_syllable() -> None:
    # 保本保信: "xin" is one letter from "xi"
    assert _find(["保本保息"], "他说保本保信", pinyin=False) == [("保本保息", "fuzzy", "保本保信")]
    # "de" is not near "shi": a different phrase, not an ASR slip
    assert _find(["现金价值是"], "可以借现金价值的百分之八十") == []


def test_english_tokens_tolerate_inflection_and_one_extra_word() -> None:
    assert _find(["guaranteed returns"], "you get a guaranteed high return") == [
        ("guaranteed returns", "tokens", "guaranteed high return")
    ]
    assert _find(["speak to your supervisor"], "let me speak to a supervisor") == [
        ("speak to your supervisor", "tokens", "speak to a supervisor")
    ]


def test_english_fuzzy_catches_misspelling_but_not_unrelated_words() -> None:
    assert _find(["guaranteed returns"], "it has gauranteed returns") == [
        ("guaranteed returns", "fuzzy", "gauranteed returns")
    ]
    assert _find(["guaranteed returns"], "we guard the retail units") == []


def test_switching_matchers_off() -> None:
    assert _find(["保本保息"], "这个是保本包息的", pinyin=False, fuzzy=False) == []


def test_overlapping_matches_of_one_phrase_are_reported_once() -> None:
    found = _find(["risk free"], "it is risk free, totally risk-free")
    assert [f[2] for f in found] == ["risk free", "risk-free"]
