"""The sans-I/O ingest protocol: feed messages, check records, replies and closes (no sockets)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pipeline.ingest.admission import CallRegistry
from pipeline.ingest.outputs import AudioIn, Close, Reply
from pipeline.ingest.protocol import IngestSession, Limits
from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent

pytestmark = pytest.mark.unit

TOKEN = "s3cret"


def session(registry: CallRegistry | None = None, **kw: Any) -> IngestSession:
    t = iter(range(1_000_000))
    kw.setdefault("tokens", [TOKEN])
    return IngestSession(registry=registry or CallRegistry(), clock=lambda: 1000.0 + next(t) * 0.01, **kw)


def open_msg(**over: Any) -> str:
    msg: dict[str, Any] = {
        "type": "open",
        "call_id": "call-1",
        "agent_id": "a7",
        "customer_id": "u42",
        "queue": "billing",
        "language": "en-US",
        "format": {"encoding": "pcm16le", "sample_rate": 8000},
        "token": TOKEN,
    }
    msg.update(over)
    return json.dumps({k: v for k, v in msg.items() if v is not None})


def of(outs: list, cls: type) -> list:
    return [o for o in outs if isinstance(o, cls)]


def errors(outs: list) -> list[str]:
    return [o.error for o in of(outs, Reply) if o.error]


def closes(outs: list) -> list[int]:
    return [o.code for o in of(outs, Close)]


def opened(s: IngestSession, **over: Any) -> list:
    outs = s.receive_text(open_msg(**over))
    assert not errors(outs), outs
    return outs


# -- happy path ---------------------------------------------------------------
def test_open_audio_close_produces_started_frames_ended() -> None:
    reg = CallRegistry()
    s = session(reg)
    outs = opened(s)
    (started,) = of(outs, CallEvent)
    assert (started.kind, started.call_id, started.agent_id, started.language) == (
        "started",
        "call-1",
        "a7",
        "en",
    )
    assert (started.encoding, started.sample_rate, started.source) == ("pcm16le", 8000, "ws")
    ack = of(outs, Reply)[0].message
    assert ack["type"] == "opened" and ack["channels"] == {"0": "agent", "1": "customer"}
    assert reg.active == 1

    frames: list[AudioFrame] = []
    for _ in range(15):  # 15 x 20 ms per channel = 300 ms
        for ch in (0, 1):
            out = s.receive_bytes(bytes([ch]) + b"\x01\x02" * 160)
            assert not errors(out)
            assert of(out, AudioIn)[0].nbytes == 320
            frames += of(out, AudioFrame)
    assert [(f.channel, f.seq) for f in frames] == [("agent", 0), ("customer", 0)]

    outs = s.receive_text(json.dumps({"type": "close", "reason": "hangup"}))
    tail = of(outs, AudioFrame)
    assert [(f.channel, f.seq, f.start, len(f.payload)) for f in tail] == [
        ("agent", 1, 0.2, 1600),
        ("customer", 1, 0.2, 1600),
    ]
    (ended,) = of(outs, CallEvent)
    assert (ended.kind, ended.reason, ended.duration) == ("ended", "hangup", 0.3)
    assert of(outs, Reply)[0].message["type"] == "closed"
    assert closes(outs) == [1000]
    assert reg.active == 0
    assert s.receive_bytes(b"\x00\x00\x00") == []  # closed: ignored, nothing breaks


def test_ping_reports_received_audio() -> None:
    s = session()
    opened(s)
    s.receive_bytes(b"\x00" + b"\x00" * 1600)
    outs = s.receive_text('{"type": "ping", "id": 3}')
    assert len(outs) == 1
    reply = of(outs, Reply)[0]
    assert reply.message == {"type": "pong", "id": 3, "received": {"agent": 0.1, "customer": 0.0}}


# -- wrong or missing open ---------------------------------------------------
@pytest.mark.parametrize(
    "first",
    [
        b"\x00\x01\x02",  # audio before open
        "hello there",  # non-JSON text
        "[1, 2]",  # JSON, not an object
        '{"type": "close"}',  # valid message, wrong time
    ],
)
def test_missing_open_is_fatal(first: str | bytes) -> None:
    s = session()
    outs = s.receive_bytes(first) if isinstance(first, bytes) else s.receive_text(first)
    assert errors(outs) == ["no_open"] and closes(outs) == [4400]
    assert not of(outs, CallEvent)
    assert of(outs, Reply)[0].message["fatal"] is True


@pytest.mark.parametrize(
    ("over", "kind", "text"),
    [
        ({"call_id": None}, "bad_open", "call_id"),
        ({"call_id": "has space"}, "bad_open", "call_id"),
        ({"call_id": 12}, "bad_open", "call_id"),
        ({"format": None}, "bad_open", "format"),
        ({"language": "english please"}, "bad_open", "language"),
        ({"agent_id": "x" * 500}, "bad_open", "agent_id"),
        ({"format": {"encoding": "opus", "sample_rate": 48000}}, "unknown_format", "opus"),
        ({"format": {"encoding": "mulaw", "sample_rate": 16000}}, "unknown_format", "8000"),
        ({"format": {"encoding": "pcm16le", "sample_rate": 7000}}, "unknown_format", "7000"),
        ({"format": {"encoding": "pcm16le", "sample_rate": "8000"}}, "unknown_format", "integer"),
        (
            {"format": {"encoding": "pcm16le", "sample_rate": 8000, "channels": ["agent", "bot"]}},
            "unknown_channel",
            "bot",
        ),
    ],
)
def test_bad_open_is_fatal_with_a_clear_message(over: dict, kind: str, text: str) -> None:
    reg = CallRegistry()
    s = session(reg)
    outs = s.receive_text(open_msg(**over))
    assert errors(outs) == [kind]
    assert text in of(outs, Reply)[0].message["message"]
    assert closes(outs) and not of(outs, CallEvent)
    assert reg.active == 0


def test_unknown_format_close_code() -> None:
    outs = session().receive_text(open_msg(format={"encoding": "g729", "sample_rate": 8000}))
    assert closes(outs) == [4415]


def test_encoding_aliases_and_language_normalisation() -> None:
    s = session()
    outs = opened(
        s, format={"encoding": "PCMU", "sample_rate": 8000, "channels": ["customer"]}, language="cmn"
    )
    (ev,) = of(outs, CallEvent)
    assert (ev.encoding, ev.language) == ("mulaw", "zh")
    assert s.request is not None and s.request.meta.channels == ("customer",)


# -- auth ---------------------------------------------------------------------
@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_token_required(token: str | None) -> None:
    reg = CallRegistry()
    outs = session(reg).receive_text(open_msg(token=token))
    assert errors(outs) == ["unauthorized"] and closes(outs) == [4401]
    assert reg.active == 0 and not of(outs, CallEvent)


def test_token_checked_at_handshake_is_enough() -> None:
    s = session(authenticated=True)
    opened(s, token=None)


def test_any_configured_token_is_accepted() -> None:
    s = session(tokens=["old", TOKEN])
    opened(s)


# -- bad frames mid-call: error to the client, call continues -------------------
@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (b"\x00\x01\x02\x03", "odd_length"),  # 3 bytes of pcm16
        (b"\x02" + b"\x00" * 320, "unknown_channel"),
        (b"\xff" + b"\x00" * 320, "unknown_channel"),
        (b"\x00", "empty_frame"),
        (b"\x00" + b"\x00" * 16002, "oversize"),  # > 1 s at 8 kHz pcm16
    ],
)
def test_bad_frame_is_rejected_and_the_call_goes_on(frame: bytes, kind: str) -> None:
    s = session()
    opened(s)
    outs = s.receive_bytes(frame)
    assert errors(outs) == [kind] and not closes(outs)
    reply = of(outs, Reply)[0]
    assert reply.dropped_audio and reply.message["fatal"] is False
    assert not of(outs, AudioFrame)
    ok = s.receive_bytes(b"\x00" + b"\x00" * 3200)
    assert not errors(ok) and len(of(ok, AudioFrame)) == 1
    assert of(ok, AudioFrame)[0].seq == 0  # rejected audio consumed no seq


def test_channel_not_declared_in_open_is_unknown() -> None:
    s = session()
    opened(s, format={"encoding": "mulaw", "sample_rate": 8000, "channels": ["agent"]})
    assert errors(s.receive_bytes(b"\x01" + b"\xff" * 160)) == ["unknown_channel"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("\x00\x01garbage", "bad_json"),
        ('{"type": "dance"}', "bad_message"),
        ("42", "bad_message"),
        (open_msg(), "unexpected"),
        ('{"event": "media", "media": {"payload": "AAAA"}}', "unexpected"),
    ],
)
def test_garbage_text_mid_call_is_not_fatal(text: str, kind: str) -> None:
    s = session()
    opened(s)
    outs = s.receive_text(text)
    assert errors(outs) == [kind] and not closes(outs)
    assert s.state == "open"


def test_too_many_errors_closes_and_ends_the_call() -> None:
    s = session(limits=Limits(max_errors=3))
    opened(s)
    s.receive_bytes(b"\x00" + b"\x00" * 800)  # 50 ms buffered
    for _ in range(3):
        assert not closes(s.receive_text("junk"))
    outs = s.receive_text("junk")
    assert errors(outs) == ["too_many_errors"] and closes(outs) == [4400]
    (ended,) = of(outs, CallEvent)
    assert ended.reason == "protocol_error"
    assert len(of(outs, AudioFrame)) == 1  # buffered audio is flushed, not lost


# -- disconnects, duplicates, timeouts --------------------------------------------
def test_disconnect_mid_call_ends_the_call_and_flushes() -> None:
    reg = CallRegistry()
    s = session(reg)
    opened(s)
    s.receive_bytes(b"\x01" + b"\x00" * 1000)
    outs = s.connection_lost()
    (frame,) = of(outs, AudioFrame)
    assert (frame.channel, len(frame.payload)) == ("customer", 1000)
    (ended,) = of(outs, CallEvent)
    assert ended.reason == "client_disconnected" and ended.duration == pytest.approx(0.0625, abs=1e-3)
    assert not of(outs, Close) and reg.active == 0
    assert s.connection_lost() == []  # exactly one ended event


def test_disconnect_before_open_produces_nothing() -> None:
    assert session().connection_lost() == []


def test_duplicate_call_id_is_refused_while_live_and_after_end() -> None:
    reg = CallRegistry()
    first = session(reg)
    opened(first)
    second = session(reg)
    outs = second.receive_text(open_msg())
    assert errors(outs) == ["duplicate_call"] and closes(outs) == [4409]
    assert not of(outs, CallEvent)
    # the first call is untouched
    assert len(of(first.receive_bytes(b"\x00" + b"\x00" * 3200), AudioFrame)) == 1
    first.connection_lost()
    third = session(reg)
    outs = third.receive_text(open_msg())
    assert errors(outs) == ["duplicate_call"] and "already ended" in of(outs, Reply)[0].message["message"]


def test_capacity_limit() -> None:
    reg = CallRegistry(max_calls=1)
    opened(session(reg))
    outs = session(reg).receive_text(open_msg(call_id="call-2"))
    assert errors(outs) == ["capacity"] and closes(outs) == [4503]


def test_registry_forgets_old_ids() -> None:
    reg = CallRegistry(remember=2)
    for cid in ("a", "b", "c"):
        assert reg.claim(cid) is None
        reg.release(cid)
    assert reg.claim("a") is None  # forgotten
    assert reg.claim("c") is not None


def test_open_timeout() -> None:
    s = session()
    outs = s.open_timed_out()
    assert errors(outs) == ["open_timeout"] and closes(outs) == [4408]
    t = session()
    opened(t)
    assert t.open_timed_out() == []


# -- Twilio Media Streams ---------------------------------------------------------
def twilio_start(**params: str) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": "MZ123",
            "start": {
                "accountSid": "AC1",
                "callSid": "CA9f3",
                "streamSid": "MZ123",
                "tracks": ["inbound", "outbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"token": TOKEN, **params},
            },
        }
    )


def twilio_media(track: str, payload: bytes, ts: int | None = None, raw: str | None = None) -> str:
    media: dict[str, Any] = {
        "track": track,
        "chunk": "1",
        "payload": raw or base64.b64encode(payload).decode(),
    }
    if ts is not None:
        media["timestamp"] = str(ts)
    return json.dumps({"event": "media", "sequenceNumber": "2", "streamSid": "MZ123", "media": media})


def test_twilio_stream() -> None:
    s = session()
    assert s.receive_text(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})) == []
    outs = s.receive_text(twilio_start(agent_id="a1", language="zh-CN"))
    assert not errors(outs) and not of(outs, Reply)  # Twilio gets no ack
    (started,) = of(outs, CallEvent)
    assert (started.call_id, started.source, started.encoding, started.language) == (
        "CA9f3",
        "twilio",
        "mulaw",
        "zh",
    )
    frames: list[AudioFrame] = []
    for i in range(10):  # 200 ms per track in 20 ms chunks
        frames += of(s.receive_text(twilio_media("inbound", b"\x11" * 160, ts=i * 20)), AudioFrame)
        frames += of(s.receive_text(twilio_media("outbound", b"\x22" * 160, ts=i * 20)), AudioFrame)
    assert {(f.channel, f.payload[:1]) for f in frames} == {("customer", b"\x11"), ("agent", b"\x22")}
    assert s.receive_text('{"event": "mark", "mark": {"name": "x"}}') == []
    outs = s.receive_text(json.dumps({"event": "stop", "stop": {"callSid": "CA9f3"}}))
    (ended,) = of(outs, CallEvent)
    assert ended.reason == "hangup" and closes(outs) == [1000]


def test_twilio_call_id_parameter_wins_and_gap_is_filled() -> None:
    s = session()
    s.receive_text(twilio_start(call_id="crm-77"))
    assert s.call_id == "crm-77"
    s.receive_text(twilio_media("inbound", b"\x11" * 160, ts=0))
    # 500 ms of silence on the track, then audio stamped at 520 ms
    outs = s.receive_text(twilio_media("inbound", b"\x11" * 160, ts=520))
    frames = of(outs, AudioFrame)
    assert frames and b"\xff" * 1000 in frames[0].payload
    assert s.framer is not None and s.framer.received_seconds("customer") == pytest.approx(0.54)


@pytest.mark.parametrize(
    ("msg", "kind"),
    [
        (twilio_media("inbound", b"", raw="!!notbase64!!"), "bad_message"),
        (twilio_media("sideways", b"\x00" * 160), "unknown_channel"),
        (json.dumps({"event": "media"}), "bad_message"),
        (twilio_media("inbound", b"\x00" * 9000), "oversize"),
        (json.dumps({"event": "boogie"}), "bad_message"),
        (twilio_start(), "unexpected"),
    ],
)
def test_twilio_bad_messages_are_not_fatal(msg: str, kind: str) -> None:
    s = session()
    s.receive_text(twilio_start())
    outs = s.receive_text(msg)
    assert errors(outs) == [kind] and not closes(outs)
    assert len(of(s.receive_text(twilio_media("inbound", b"\x00" * 1600)), AudioFrame)) == 1


def test_twilio_binary_frame_and_media_before_start() -> None:
    s = session()
    s.receive_text(twilio_start())
    assert errors(s.receive_bytes(b"\x00\x00")) == ["unexpected"]
    t = session()
    outs = t.receive_text(twilio_media("inbound", b"\x00" * 160))
    assert errors(outs) == ["no_open"] and closes(outs) == [4400]


def test_twilio_token_and_format_checked() -> None:
    start = json.loads(twilio_start())
    start["start"]["customParameters"]["token"] = "nope"
    assert errors(session().receive_text(json.dumps(start))) == ["unauthorized"]
    start = json.loads(twilio_start())
    start["start"]["mediaFormat"] = {"encoding": "audio/x-alaw", "sampleRate": 8000, "channels": 1}
    assert errors(session().receive_text(json.dumps(start))) == ["unknown_format"]
