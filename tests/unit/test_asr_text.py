"""Text normalisation, hallucination and repetition filters, WER/CER scoring (pure functions)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from models.whisper.filters import FilterConfig, collapse_repetitions, find_loops, hallucination_reason
from models.whisper.scoring import cer, wer
from models.whisper.text import normalize_text, normalize_word

pytestmark = pytest.mark.unit
CFG = FilterConfig()


@dataclass
class R:
    text: str
    language: str = "en"
    avg_logprob: float = -0.3
    no_speech_prob: float = 0.05


@dataclass
class W:
    text: str
    start: float = 0.0
    end: float = 0.0


def test_mandarin_is_converted_to_simplified():
    assert normalize_text("這是一個測試，請稍等。", "zh") == "这是一个测试，请稍等。"
    assert normalize_text("  你好  世界 ", "zh") == "你好世界"
    assert normalize_word(" 愛", "zh") == " 爱"
    assert normalize_text("  Hello   there ", "en") == "Hello there"


@pytest.mark.parametrize(
    ("res", "speech_ratio", "reason"),
    [
        (R("Thanks for watching!"), 1.0, "stock_boilerplate"),
        (R("字幕由Amara.org社区提供"), 1.0, "stock_boilerplate"),
        (R("請不吝點贊 訂閱 轉發 打賞支持明鏡與點點欄目", "zh"), 1.0, "stock_boilerplate"),
        (R("♪ ♪ ♪"), 1.0, "markers"),
        (R("[Music]"), 1.0, "markers"),
        (R("I'm not sure if I can get a new one.", no_speech_prob=0.71, avg_logprob=-1.99), 1.0, "no_speech"),
        (R("Thank you.", no_speech_prob=0.4), 1.0, "stock_phrase"),
        (R("Thank you.", avg_logprob=-0.9), 1.0, "stock_phrase"),
        (R("Bye."), 0.1, "stock_phrase"),
        (R("a b c d e f g h", avg_logprob=-1.8), 1.0, "low_confidence"),
        (
            R("the the the the the the the the the the the the the the the the the the the the"),
            1.0,
            "repetition",
        ),
    ],
)
def test_hallucinations_are_dropped(res, speech_ratio, reason):
    assert hallucination_reason(res, CFG, speech_ratio) == reason


@pytest.mark.parametrize(
    "res",
    [
        R("Thank you."),  # a confident "thank you" on real speech is real
        R("Bye-bye, see you soon."),
        R("I want to subscribe to the premium plan."),  # "subscribe" alone is not boilerplate
        R("谢谢", "zh"),
        R("我想取消我的订单", "zh"),
        R(""),
    ],
)
def test_real_speech_is_kept(res):
    assert hallucination_reason(res, CFG, 0.9) == ""


def test_repetition_loops_are_collapsed_but_normal_repeats_stay():
    ws = [W(t) for t in " I'm sorry, I'm sorry, I'm sorry, I'm sorry, I'm sorry, okay".split(" ")[1:]]
    ws = [W(" " + w.text) for w in ws]
    kept, text = collapse_repetitions(ws, "", "en", CFG)
    assert text == "I'm sorry, okay"
    no = [W(" no"), W(" no"), W(" no"), W(" that's"), W(" wrong")]
    assert collapse_repetitions(no, "no no no that's wrong", "en", CFG)[1] == "no no no that's wrong"
    _w, zh = collapse_repetitions([], "好的好的好的好的好的谢谢", "zh", CFG)
    assert zh == "好的谢谢"
    assert collapse_repetitions([], "对对对，没问题", "zh", CFG)[1] == "对对对，没问题"
    assert find_loops(list("abababab"), CFG) == [(0, 2, 4)]


def test_wer_ignores_case_punctuation_and_fillers():
    assert wer("Hello, world. Um, how are you?", "hello world how are you").errors == 0
    er = wer("press one for sales", "press 1 for sales")
    assert er.errors == 1 and er.ref_len == 4 and er.rate == pytest.approx(0.25)
    assert wer("don't stop", "dont stop").errors == 1  # apostrophes stay inside words


def test_cer_compares_simplified_characters_without_punctuation():
    assert cer("这是一个测试。", "這是一個測試").errors == 0
    er = cer("甚至出现交易几乎停滞的情况", "甚至出现交易几乎停制的情况")
    assert er.errors == 1 and er.ref_len == 13
