"""Text normalisation, pinyin and retrieval tokens (streams.matching.text)."""

from __future__ import annotations

import pytest

from streams.matching.text import normalize, phrase_pinyin, pinyin_syllables, retrieval_tokens, stem_en

pytestmark = pytest.mark.unit


def test_normalize_maps_back_to_original_characters() -> None:
    original = "這個產品 保本 保息，ＯＫ？"
    n = normalize(original)
    assert n.text == "这个产品保本保息 ok"
    i = n.text.index("保本")
    assert n.orig_text(i, i + 4) == "保本 保息"  # the span as the agent saw it, spaces included


def test_normalize_chinese_digit_runs_and_keeps_short_numbers_as_words() -> None:
    assert normalize("我要打一二三七八投诉").text == "我要打12378投诉"
    assert normalize("一两个问题").text == "一两个问题"  # a run of two is a word, not a number


def test_pinyin_syllables_fold_and_keep_tones() -> None:
    syls = pinyin_syllables(normalize("投诉 ok 律师"))
    assert [s.toned for s in syls] == ["tou2", "su4", "lv4", "shi1"]
    assert [s.folded for s in syls] == ["tou", "su", "nv", "si"]  # l -> n, sh -> s
    assert phrase_pinyin("现金价值") == phrase_pinyin("现今价直")  # homophones fold together


@pytest.mark.parametrize(
    ("a", "b"),
    [("claims", "claimed"), ("guaranteed", "guarantee"), ("taking", "take"), ("policies", "policy")],
)
def test_stemmer_merges_inflections(a: str, b: str) -> None:
    assert stem_en(a) == stem_en(b)


def test_stemmer_leaves_short_words() -> None:
    assert stem_en("is") == "is" and stem_en("business") == "business" and stem_en("bus") == "bus"


def test_retrieval_tokens_include_pinyin_bigrams_for_homophones() -> None:
    right, wrong = set(retrieval_tokens("我要退保")), set(retrieval_tokens("我要退宝"))
    assert "退保" in right and "退保" not in wrong
    assert "tui_bao" in right & wrong  # the ASR homophone still shares the pinyin bigram


def test_retrieval_tokens_drop_english_stopwords() -> None:
    assert retrieval_tokens("I want to cancel the policies") == ["want", "cancel", "policy"]
