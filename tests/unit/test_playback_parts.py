"""Playback pieces without services: HTTP ranges, tickets, PII audio spans, the tone."""

from __future__ import annotations

import numpy as np
import pytest

from assist_ui.audio_redaction import pii_audio_spans
from assist_ui.playback import RangeNotSatisfiable, Tickets, parse_range, tone_over

pytestmark = pytest.mark.unit


def test_ranges() -> None:
    assert parse_range(None, 1000) is None
    assert parse_range("bytes=0-", 1000) == (0, 999)
    assert parse_range("bytes=10-19", 1000) == (10, 19)
    assert parse_range("bytes=990-5000", 1000) == (990, 999)
    assert parse_range("bytes=-100", 1000) == (900, 999)
    for bad in ("bytes=1000-", "bytes=5-2", "bytes=-", "items=0-1", "bytes=0-1,5-6", "bytes=-0"):
        with pytest.raises(RangeNotSatisfiable):
            parse_range(bad, 1000)


def test_tickets_expire_and_are_unguessable() -> None:
    t = Tickets(ttl_s=10)
    a, b = t.issue("c1", "qa-1", now=100.0), t.issue("c1", "qa-1", now=100.0)
    assert a != b and len(a) >= 32
    ticket = t.resolve(a, now=105.0)
    assert ticket is not None and (ticket.call_id, ticket.user_id) == ("c1", "qa-1")
    assert t.resolve(a, now=111.0) is None and t.resolve("guess", now=100.0) is None


def test_tickets_are_signed_valid_on_every_replica_with_the_secret_and_cannot_be_moved() -> None:
    import base64
    import json

    issuer, peer, stranger = Tickets("s3cret", ttl_s=10), Tickets("s3cret", ttl_s=10), Tickets("other", ttl_s=10)
    token = issuer.issue("c1", "qa-1", now=100.0)
    assert peer.resolve(token, now=101.0) is not None  # another UI replica, the same secret
    assert stranger.resolve(token, now=101.0) is None
    assert Tickets().resolve(token, now=101.0) is None  # no secret: a random one per process
    body, sig = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    moved = base64.urlsafe_b64encode(json.dumps(["c2", *data[1:]]).encode()).rstrip(b"=").decode()
    assert peer.resolve(f"{moved}.{sig}", now=101.0) is None  # re-pointed at another call: refused
    longer = base64.urlsafe_b64encode(json.dumps([data[0], data[1], 10**9, data[3]]).encode()).rstrip(b"=").decode()
    assert peer.resolve(f"{longer}.{sig}", now=101.0) is None  # expiry pushed out: refused
    for junk in ("", ".", "a.b", "!!!.###", token + "x", "x" * 5000):
        assert peer.resolve(junk, now=101.0) is None


def test_pii_audio_spans_from_word_timings_mandarin_and_english() -> None:
    zh = {"channel": "customer", "start": 0.0, "end": 6.0, "text": "我的手机是一三八一二三四五六七八，谢谢",
          "words": [{"start": 0.0, "end": 1.0, "text": "我的手机是"}, {"start": 1.0, "end": 2.0, "text": "一三八"},
                    {"start": 2.0, "end": 4.2, "text": "一二三四五六七八"}, {"start": 4.5, "end": 5.0, "text": "，谢谢"}]}
    en = {"channel": "agent", "start": 10.0, "end": 16.0, "text": "your card 4111 1111 1111 1111 is noted",
          "words": [{"start": 10.0, "end": 10.4, "text": "your"}, {"start": 10.4, "end": 10.8, "text": " card"},
                    *[{"start": 11.0 + i, "end": 11.8 + i, "text": " 1111" if i else " 4111"} for i in range(4)],
                    {"start": 15.0, "end": 15.3, "text": " is"}, {"start": 15.3, "end": 16.0, "text": " noted"}]}
    spans = pii_audio_spans([zh, en], pad_s=0.2)
    assert spans == [{"channel": "customer", "start": 0.8, "end": 4.4, "kind": "phone"},
                     {"channel": "agent", "start": 10.8, "end": 15.0, "kind": "bank_card"}]
    # PII in the text but no words: the whole segment is hidden
    assert pii_audio_spans([{"channel": "customer", "start": 3, "end": 7, "text": "电话13812345678"}], 0) == [
        {"channel": "customer", "start": 3.0, "end": 7.0, "kind": "phone"}]
    assert pii_audio_spans([{"channel": "agent", "start": 0, "end": 2, "text": "hello there", "words": []}]) == []


def test_tone_replaces_only_the_span() -> None:
    y = np.full(8000, 1234, np.int16)
    out = tone_over(y, 8000, [(0.25, 0.5)])
    assert (out[:2000] == 1234).all() and (out[4000:] == 1234).all() and (out[2000:4000] != 1234).any()
    assert np.abs(out[2000:4000]).max() <= 3277
