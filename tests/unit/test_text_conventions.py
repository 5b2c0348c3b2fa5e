"""One text convention for transcripts, rule/KB matching and redaction (zh and en)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from models.whisper.text import (
    full_width_punctuation,
    normalize_text,
    normalize_words,
    spoken_digits_to_ascii,
    to_simplified,
)
from streams.matching.text import normalize

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("這種保險本來就有返還,一年返個三千.", "这种保险本来就有返还，一年返个3000。"),
        ("隨著時間,您看著辦", "随着时间，您看着办"),  # particle 著 -> 着 (t2s alone keeps 著)
        ("著名的保險公司,效果顯著", "著名的保险公司，效果显著"),  # but 著名 / 显著 stay
        ("請問 ? 好的 !", "请问？好的！"),
        ("我的電話是一三八零零一二三四五六", "我的电话是13800123456"),
        ("保單號１２３４五六", "保单号123456"),  # full-width and mixed digits
        ("收益率3.5%, 期限10:30", "收益率3.5%，期限10:30"),
        ("十分感謝,一下就好,萬一有問題", "十分感谢，一下就好，万一有问题"),  # no numbers here
        ("一年返個三千,參考價格兩千四百九十九", "一年返个3000，参考价格2499"),  # numerals with units
        ("三四個人,一二", "三四个人，一二"),  # two spoken digits are not a number
    ],
)
def test_mandarin_transcript_conventions(raw, expected):
    assert normalize_text(raw, "zh") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Hello,   world. ", "Hello, world."),
        ("Press one, or 3.5 percent; call 1,000 times!", "Press one, or 3.5 percent; call 1,000 times!"),
        ("Café\ufffd ok", "Café ok"),
    ],
)
def test_english_text_keeps_ascii_punctuation(raw, expected):
    assert normalize_text(raw, "en") == expected


def test_words_follow_the_same_conventions_across_word_boundaries():
    words = ["我的", "電話", "一三", "八零", "零,", "謝謝"]
    out = normalize_words(words, "zh")
    assert out == ["我的", "电话", "13", "80", "0，", "谢谢"]
    assert "".join(out) == normalize_text("".join(words), "zh")
    # a numeral with units goes whole to the word where it starts; used-up words are empty
    words = ["价格", "两千", "四", "百九", "十九", "左右"]
    out = normalize_words(words, "zh")
    assert out == ["价格", "2499", "", "", "", "左右"]
    assert "".join(out) == normalize_text("".join(words), "zh")
    assert normalize_words([" Hello,", " world"], "en") == [" Hello,", " world"]


def test_rules_and_transcripts_share_the_number_and_script_convention():
    transcript = normalize_text("您的卡號是六二二二零二一二三四", "zh")
    for rule_phrase in ("卡号是6222021234", "卡號是六二二二零二一二三四"):
        assert normalize(rule_phrase).text in normalize(transcript).text
    assert normalize("隨著").text == normalize_text("随着", "zh")
    assert (
        normalize("一年返两千四百").text
        == normalize(normalize_text("一年返兩千四百", "zh")).text
        == "一年返2400"
    )


def test_helpers_are_one_for_one():
    for s in ("一三八零零", "电话1三8", "你好,世界.", "A,b"):
        assert len(spoken_digits_to_ascii(s)) == len(s)
        assert len(full_width_punctuation(s)) == len(s)
    assert to_simplified("") == ""


def test_opencc_is_not_loaded_at_import():
    code = "import sys, streams.matching.text, models.whisper.text; print('opencc' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_one_definition_of_han_characters():
    """streams.matching.text is the one is_cjk; models/ (which imports nothing of ours) keeps an equal copy."""
    import re
    from pathlib import Path

    from models.whisper import text as whisper_text
    from streams.matching.text import CJK_CLASS, cjk_share, has_cjk, is_cjk

    assert whisper_text._CJK == CJK_CLASS
    assert all(is_cjk(c) for c in "保險\u3400\uf900") and not any(is_cjk(c) for c in "a1，。")
    assert has_cjk("call 退保") and not has_cjk("call back") and cjk_share("ab退保") == 0.5
    # nobody else spells the ranges out (the escapes of the main block's ends)
    root = Path(__file__).resolve().parents[2]
    own = {root / "streams/matching/text.py", root / "models/whisper/text.py"}
    needle = re.compile(r"\\u4e00|\\u9fff")
    offenders = [str(p.relative_to(root)) for d in ("streams", "pipeline", "assist_ui", "models")
                 for p in (root / d).rglob("*.py") if p not in own and needle.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_one_bilingual_text_model_for_rules_kb_and_strategies():
    from pydantic import ValidationError

    from streams.compliance.rules import Rule
    from streams.kb.model import Entry
    from streams.kb.strategies import StrategyDef
    from streams.matching.bilingual import LangList, LangText

    assert Rule.model_fields["message"].annotation is LangText and Rule.model_fields["phrases"].annotation is LangList
    assert Entry.model_fields["answer"].annotation is LangText and Entry.model_fields["questions"].annotation is LangList
    assert StrategyDef.model_fields["text"].annotation is LangText
    t = LangText(zh="您好", en="Hello")
    assert (t.pick("zh-CN"), t.pick("en"), LangText(en="Hi").pick("zh")) == ("您好", "Hello", "Hi")
    assert LangList(zh=["退保", " "], en=["cancel"]).all() == ["退保", "cancel"]
    with pytest.raises(ValidationError):
        LangText.model_validate({"zn": "typo"})
