"""PII redaction in Mandarin and English transcripts (assist_ui.redact)."""

from __future__ import annotations

import pytest

from assist_ui.redact import find_pii, luhn_ok, redact, redact_obj

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ID cards: 18 with X, 18 digits, old 15 digits, spoken Chinese digits
        ("我的身份证号是110101199003074518。", "我的身份证号是[ID_CARD]。"),
        ("身份证 11010119900307451X 好的", "身份证 [ID_CARD] 好的"),
        ("id 11010119900307451x ok", "id [ID_CARD] ok"),
        ("老身份证110101900307451", "老身份证[ID_CARD]"),
        ("身份证号码一一零一零一一九九零零三零七四五一X", "身份证号码[ID_CARD]"),
        # bank cards: Luhn-valid 16-19 digits, grouped or not, spoken
        ("my card is 4111 1111 1111 1111 thanks", "my card is [BANK_CARD] thanks"),
        ("卡号6222021234567890128", "卡号[BANK_CARD]"),
        ("number 4111-1111-1111-1111", "number [BANK_CARD]"),
        ("卡号六二二二零二一二三四五六七八九零一二三", "卡号[BANK_CARD]"),
        # mobiles and phones
        ("我的手机13812345678，谢谢", "我的手机[PHONE]，谢谢"),
        ("call me at +86 138 1234 5678", "call me at [PHONE]"),
        ("电话 0086-13812345678", "电话 [PHONE]"),
        ("tel: 138-1234-5678.", "tel: [PHONE]."),
        ("手机号一三八一二三四五六七八", "手机号[PHONE]"),
        ("我的电话是：幺三八 一二三四 五六七八", "我的电话是：[PHONE]"),
        ("reach me on (415) 555-2671 today", "reach me on [PHONE] today"),
        ("415-555-2671", "[PHONE]"),
        ("+1 415 555 2671", "[PHONE]"),
        ("+44 20 7946 0958", "[PHONE]"),
        ("座机 0755-88888888", "座机 [PHONE]"),
        ("my number is five five five one two three four five six seven", "my number is [PHONE]"),
        # e-mail, written and spoken
        ("email john.smith@example.com please", "email [EMAIL] please"),
        ("邮箱 zhang_san＠qq.com", "邮箱 [EMAIL]"),
        ("it's john dot smith at gmail dot com", "it's [EMAIL]"),
        ("邮箱是 zhangsan 艾特 qq 点 com", "邮箱是 [EMAIL]"),
        # two numbers back to back are both found
        ("ID 110101199003074518 13812345678", "ID [ID_CARD] [PHONE]"),
        # a cue word makes a garbled number PII even when its structure does not fit
        ("银行卡号 6222 0212 3456 7890", "银行卡号 [BANK_CARD]"),
        ("my phone is 12345 6789", "my phone is [PHONE]"),
    ],
)
def test_redacts(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890 shipped",  # a bare 10-digit order number is not a phone
        "it costs 3.50 dollars, 2 items",
        "the year 2024 and 15 people",
        "我要一二三个",
        "第一次打电话",
        "AB13812345678 code",  # part of an alphanumeric code
        "4111 1111 1111 1112",  # 16 digits failing Luhn, no cue
        "look at the bill, it's fine",
        "",
    ],
)
def test_leaves_non_pii_alone(text):
    assert redact(text) == text


def test_luhn():
    assert luhn_ok("4111111111111111")
    assert luhn_ok("6222021234567890128")
    assert not luhn_ok("4111111111111112")


def test_spans_do_not_overlap_and_cover_the_number():
    text = "mail a1@b.cn or call 13812345678"
    spans = find_pii(text)
    assert [s.kind for s in spans] == ["email", "phone"]
    assert text[spans[1].start : spans[1].end] == "13812345678"


def test_redact_obj_redacts_every_string_but_ids_and_drops_words():
    summary = {
        "call_id": "call-13812345678",  # an identifier: kept so the call can be found
        "customer_id": "13812345678",
        "risk_score": 50.0,
        "transcript": [{"segment_id": "s1", "text": "我的手机13812345678", "words": [{"text": "138"}, {"text": "12345678"}]}],
        "alerts": [{"alert_id": "a", "evidence": "john@example.com", "severity": "high"}],
        "reasons": ["customer gave 13812345678"],
    }
    out = redact_obj(summary)
    assert out["call_id"] == "call-13812345678"
    assert out["customer_id"] == "[PHONE]"
    assert out["risk_score"] == 50.0
    assert out["transcript"][0]["text"] == "我的手机[PHONE]"
    assert out["transcript"][0]["words"] == []
    assert out["alerts"][0]["evidence"] == "[EMAIL]" and out["alerts"][0]["severity"] == "high"
    assert out["reasons"] == ["customer gave [PHONE]"]
    assert summary["customer_id"] == "13812345678"  # the input is not modified


def test_a_long_call_is_redacted_in_linear_time():
    # every span used to be mapped back by scanning every segment of its channel: a 4000-segment
    # call with a number per segment took ~15 s (and the QA sink redacts every stored call)
    import time

    from assist_ui.redact import redact_segments

    segs = [{"segment_id": f"s{i}", "channel": "customer", "start": float(i), "end": i + 1.0,
             "text": f"第{i}句 我的手机是138{i % 10}234 5678，卡号 6222 0212 3456 7890"} for i in range(4000)]
    # a number split across two segments is still found in the joined text
    segs[10]["text"], segs[11]["text"] = "我的手机是138", "1234 5678"
    t0 = time.perf_counter()
    out = redact_segments(segs)
    assert time.perf_counter() - t0 < 5.0
    assert out[10]["text"] == "我的手机是[PHONE]" and out[11]["text"].strip() == ""
    assert all("6222" not in s["text"] and "5678" not in s["text"] for s in out)
