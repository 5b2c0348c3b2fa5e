"""Red-team item 3 of issue #18: PII that leaked through the redactor, in both languages.

Every expected output is what the QA store keeps and what a supervisor sees.
"""

from __future__ import annotations

import json

import pytest

from assist_ui.redact import redact, redact_obj, redact_segments

pytestmark = pytest.mark.unit

ZW = "\u200b"  # zero-width space

LEAKS = [
    # Chinese commas / 、 between digit groups
    ("我的手机是138，1234，5678", "我的手机是[PHONE]"),
    ("手机138、1234、5678好的", "手机[PHONE]好的"),
    ("卡号6222，0212，3456，7894", "卡号[BANK_CARD]"),
    ("6222，0212，3456，7890，128", "[BANK_CARD]"),  # Luhn-valid 19 digits, no cue
    ("电话幺三八，幺二三四，五六七八", "电话[PHONE]"),
    ("幺三八，幺二三四，五六七八", "[PHONE]"),
    # ID cards split by commas, spaces or 、
    ("身份证号110101，19900307，4518", "身份证号[ID_CARD]"),
    ("身份证 110101、19900307、451X", "身份证 [ID_CARD]"),
    ("证件号一一零一零一，一九九零零三零七，四五一八", "证件号[ID_CARD]"),
    # spoken English grouping words
    ("my number is four one five double five five two six seven one", "my number is [PHONE]"),
    ("call me on four one five dash five five five dash two six seven one", "call me on [PHONE]"),
    ("phone one three eight triple one two two two three three three", "phone [PHONE]"),
    ("it's 415 dash 555 dash 2671", "it's [PHONE]"),
    ("电话010杠12345678", "电话[PHONE]"),
    # zero-width characters between (or inside) digit groups
    (f"手机138{ZW}1234{ZW}5678", "手机[PHONE]"),
    (f"1{ZW}3{ZW}8{ZW}1{ZW}2{ZW}3{ZW}4{ZW}5{ZW}6{ZW}7{ZW}8", "[PHONE]"),
    (f"card 4111{ZW}{ZW}{ZW}{ZW}1111 1111 1111", "card [BANK_CARD]"),
    # 账户 / 户号 as cue words
    ("我的账户是1234567890", "我的账户是[BANK_CARD]"),
    ("账户 9876 5432 10", "账户 [BANK_CARD]"),
    # partly spoken e-mail addresses
    ("j o h n at gmail dot com", "[EMAIL]"),
    ("it is j o h n dot smith at gmail dot com ok", "it is [EMAIL] ok"),
    ("邮箱 z h a n g 艾特 qq 点 com", "邮箱 [EMAIL]"),
    ("mail j o h n@example.com", "mail [EMAIL]"),
]


@pytest.mark.parametrize(("text", "expected"), LEAKS, ids=[t for t, _ in LEAKS])
def test_item3_leaks_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "我要一二三个", "第一次打电话，第二次", "one or two things", "I need one, two, three minutes",
    "double check it", "价格是12，数量3", "at 5 dot com we", "2024年，3月，5日",
])
def test_item3_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def seg(sid: str, channel: str, start: float, text: str) -> dict:
    return {"segment_id": sid, "channel": channel, "start": start, "end": start + 1, "text": text, "is_final": True}


@pytest.mark.parametrize(("first", "second", "red1", "red2"), [
    ("我的手机是138", "1234 5678", "我的手机是[PHONE]", ""),
    ("my phone is 415 555", "2671 thanks", "my phone is [PHONE]", " thanks"),
    ("卡号6222 0212", "3456 7894", "卡号[BANK_CARD]", ""),
    ("身份证110101", "19900307 4518，对", "身份证[ID_CARD]", "，对"),
])
def test_item3_numbers_split_across_two_segments(first: str, second: str, red1: str, red2: str) -> None:
    segments = [seg("s1", "customer", 1.0, first), seg("a1", "agent", 1.5, "嗯，好的"), seg("s2", "customer", 2.0, second)]
    out = redact_segments(segments)
    assert [s["text"] for s in out] == [red1, "嗯，好的", red2]
    assert segments[0]["text"] == first  # input untouched


def test_item3_every_stored_field_is_redacted_including_queue_and_split_segments() -> None:
    summary = {
        "call_id": "c1", "queue": "vip 13812345678", "agent_id": "a1", "customer_id": "13812345678",
        "reasons": ["客户说 138，1234，5678"],
        "transcript": [seg("s1", "customer", 1.0, "手机138"), seg("s2", "customer", 2.0, "1234 5678")],
        "alerts": [{"alert_id": "x", "evidence": "卡号6222，0212，3456，7894", "message": "m", "matched_phrase": ""}],
        "suggestions": [{"suggestion_id": "y", "evidence": "j o h n at gmail dot com", "text": "ok"}],
        "emotion": [{"channel": "customer", "hints": ["13812345678"], "probs": {"13812345678": 0.5}}],
    }
    out = redact_obj(summary)
    flat = repr(out)
    for leak in ("1381234", "138，1234", "6222", "j o h", "1234 5678"):
        assert leak not in flat, (leak, flat)
    assert out["queue"] == "vip [PHONE]" and out["call_id"] == "c1"
    assert [s["text"] for s in out["transcript"]] == ["手机[PHONE]", ""]


def test_item3_live_update_of_the_second_half_of_a_split_number_is_redacted() -> None:
    from assist_ui.auth import User
    from assist_ui.fanout import Hub
    from assist_ui.live_state import LiveState

    hub = Hub(LiveState())
    sup = hub.add(User("sup-1", "S", "supervisor"))
    hub.state.apply("event", {"call_id": "c", "kind": "started", "ts": 1.0, "agent_id": "a"}, 1.0)
    hub.watch(sup, "c")
    for sid, start, text in (("s1", 1.0, "我的手机是138"), ("s2", 2.0, "1234 5678")):
        change = hub.state.apply("segment", {**seg(sid, "customer", start, text), "call_id": "c", "produced_at": 0.0}, 1.0)
        assert change is not None
        hub.publish(change)
    texts = []
    while sup.queued:
        msg = json.loads(sup._queue.popleft().text)
        if msg["type"] == "update":
            texts.append(msg["item"]["text"])
    assert texts[-1] == "" and "5678" not in repr(texts)
