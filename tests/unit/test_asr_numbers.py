"""Numerals with units -> digits, strictly: ordinary words are never numbers (pure functions)."""

from __future__ import annotations

import pytest

from models.whisper.numbers import find_numerals, numerals_to_digits, parse_numeral

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("spoken", "digits"),
    [
        ("两千四百九十九", "2499"),
        ("一千三百八", "1380"),  # colloquial: the last digit takes the next lower unit
        ("三千五", "3500"),
        ("两万五", "25000"),
        ("三百零五", "305"),
        ("一千零八十", "1080"),
        ("三万零五百", "30500"),
        ("十五", "15"),
        ("二十", "20"),
        ("一亿两千万", "120000000"),
    ],
)
def test_numerals_parse_to_their_value(spoken, digits):
    assert str(parse_numeral(spoken)) == digits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("参考价格是两千四百九十九左右", "参考价格是2499左右"),
        ("六十四G内存，十八G", "64G内存，18G"),
        ("二十分钟", "20分钟"),
        ("第十一期", "第11期"),
        ("十分感谢", "十分感谢"),
        ("万一出险", "万一出险"),
        ("千万不要", "千万不要"),
        ("百万医疗险", "百万医疗险"),
        ("稍等一下", "稍等一下"),
        ("三四十个人", "三四十个人"),  # a range, not a number
        ("十全十美", "十全十美"),
        ("一五一十地说", "一五一十地说"),
        ("两个人", "两个人"),
    ],
)
def test_numerals_in_text_and_words_left_alone(text, expected):
    assert numerals_to_digits(text) == expected


def test_find_numerals_spans():
    assert find_numerals("一年返个三千，两千四百") == [(4, 6, "3000"), (7, 11, "2400")]
