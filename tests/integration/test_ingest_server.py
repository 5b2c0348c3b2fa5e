"""The ingest gateway end to end: real websocket server, real embedded broker, records read back.

Each bad-input case is sent by a real client; every case checks the error the client gets,
that the gateway still serves a healthy call afterwards, and what reached Kafka.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from ingest_support import TOKEN, auth, call_ended, next_json, open_message, read_back
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pipeline.ingest.service import IngestService
from pipeline.ingest.settings import IngestSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> IngestSettings:
    return make_settings(  # type: ignore[no-any-return]
        IngestSettings,
        ingest_port=0,
        ingest_tokens=f"old-token-0123456789,{TOKEN}",
        ingest_open_timeout_s=1.0,
        ingest_max_errors=5,
        ingest_max_message_bytes=64 * 1024,
    )


@pytest.fixture
async def service(settings: IngestSettings) -> AsyncIterator[IngestService]:
    svc = IngestService(settings, CollectorRegistry())
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


def metric(svc: IngestService, name: str, **labels: str) -> float:
    return svc.metrics.registry.get_sample_value(name, labels or None) or 0.0


async def healthy_call(url: str, call_id: str, seconds: float = 0.6, chunk_ms: int = 20) -> bytes:
    """A well-behaved client: open, audio on both channels in real-time-sized chunks, close."""
    sent = b""
    async with connect(url, additional_headers=auth()) as ws:
        await ws.send(open_message(call_id))
        assert (await next_json(ws))["type"] == "opened"
        n = chunk_ms * 8 * 2
        for i in range(int(seconds * 1000 / chunk_ms)):
            chunk = bytes([i % 256]) * n
            sent += chunk
            await ws.send(b"\x00" + chunk)
            await ws.send(b"\x01" + chunk)
        await ws.send('{"type": "close"}')
        reply = await next_json(ws)
        assert reply["type"] == "closed" and reply["duration"] == pytest.approx(seconds)
    return sent


async def assert_still_serving(svc: IngestService, settings: IngestSettings, call_id: str) -> None:
    sent = await healthy_call(svc.url, call_id, seconds=0.3)
    got = (await read_back(settings, call_ended(call_id))).of(call_id)
    assert b"".join(f.payload for f in got.channel("agent")) == sent


# -- the happy paths ---------------------------------------------------------------
async def test_call_audio_and_events_reach_kafka(service: IngestService, settings: IngestSettings) -> None:
    sent = await healthy_call(service.url, "call-ok", seconds=1.0)
    got = (await read_back(settings, call_ended("call-ok"))).of("call-ok")
    assert [e.kind for e in got.events] == ["started", "ended"]
    started, ended = got.events
    assert (started.agent_id, started.customer_id, started.queue, started.language) == (
        "agent-7",
        "cust-1",
        "service",
        "en",
    )
    assert (started.encoding, started.sample_rate, started.source) == ("pcm16le", 8000, "ws")
    assert (ended.reason, ended.duration) == ("hangup", 1.0)
    for ch in ("agent", "customer"):
        frames = got.channel(ch)
        assert [f.seq for f in frames] == list(range(5))
        assert [f.start for f in frames] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8])
        assert b"".join(f.payload for f in frames) == sent
        assert all(f.captured_at >= started.ts for f in frames)
    assert got.keys == {b"call-ok"}
    assert metric(service, "callassist_ingest_frames_in_total", source="ws") == 100
    assert metric(service, "callassist_ingest_calls_ended_total", reason="hangup") == 1
    assert metric(service, "callassist_audio_seconds_total", channel="customer") == pytest.approx(1.0)
    assert metric(service, "callassist_websocket_clients", role="audio") == 0
    assert metric(service, "callassist_active_calls", component="ingest") == 0


async def test_twilio_media_stream(service: IngestService, settings: IngestSettings) -> None:
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "streamSid": "MZ1",
        "start": {
            "callSid": "CAtwilio1",
            "streamSid": "MZ1",
            "tracks": ["inbound", "outbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"token": TOKEN, "agent_id": "a-9", "language": "en"},
        },
    }
    async with connect(service.url) as ws:  # Twilio cannot set headers: token in customParameters
        await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
        await ws.send(json.dumps(start))
        for i in range(20):  # 400 ms per track, 20 ms chunks
            for track, byte in (("inbound", b"\x10"), ("outbound", b"\x20")):
                media = {
                    "track": track,
                    "chunk": str(i),
                    "timestamp": str(i * 20),
                    "payload": base64.b64encode(byte * 160).decode(),
                }
                await ws.send(json.dumps({"event": "media", "streamSid": "MZ1", "media": media}))
        await ws.send(json.dumps({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CAtwilio1"}}))
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)  # no replies in Twilio mode: just the normal close
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000
    got = (await read_back(settings, call_ended("CAtwilio1"))).of("CAtwilio1")
    assert got.events[0].source == "twilio" and got.events[0].agent_id == "a-9"
    assert {f.encoding for f in got.frames} == {"mulaw"}
    assert b"".join(f.payload for f in got.channel("customer")) == b"\x10" * 3200
    assert b"".join(f.payload for f in got.channel("agent")) == b"\x20" * 3200


async def test_health_endpoint_on_the_websocket_port(service: IngestService) -> None:
    url = service.url.replace("ws://", "http://").replace("/calls", "/healthz")
    body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read())
    assert body == b"ok\n"


# -- auth --------------------------------------------------------------------------
async def test_wrong_token_is_refused_at_the_handshake(
    service: IngestService, settings: IngestSettings
) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(service.url, additional_headers={"Authorization": "Bearer nope"}):
            pass
    assert info.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        async with connect(service.url + "?token=nope"):
            pass
    async with connect(service.url + "?token=old-token-0123456789") as ws:  # any configured token works
        await ws.send(open_message("call-query-token"))
        assert (await next_json(ws))["type"] == "opened"
    await assert_still_serving(service, settings, "after-auth")


async def test_no_token_anywhere_is_refused(service: IngestService) -> None:
    async with connect(service.url) as ws:
        await ws.send(open_message("call-anon"))
        err = await next_json(ws)
        assert err == {"type": "error", "code": "unauthorized", "message": "missing token", "fatal": True}
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == 4401


# -- bad input: fatal at open --------------------------------------------------------
@pytest.mark.parametrize(
    ("first", "code", "close_code"),
    [
        (b"\x00\x00\x00", "no_open", 4400),  # audio before the open message
        ("GET / HTTP/1.1 garbage", "no_open", 4400),  # non-JSON text
        ('{"type": "hello"}', "no_open", 4400),
        (open_message("bad id!"), "bad_open", 4400),
        (open_message("c", format=None), "bad_open", 4400),
        (open_message("c", format={"encoding": "opus", "sample_rate": 48000}), "unknown_format", 4415),
        (open_message("c", format={"encoding": "mulaw", "sample_rate": 16000}), "unknown_format", 4415),
    ],
)
async def test_bad_open_gets_a_clear_fatal_error(
    service: IngestService, settings: IngestSettings, first: str | bytes, code: str, close_code: int
) -> None:
    async with connect(service.url, additional_headers=auth()) as ws:
        await ws.send(first)
        err = await next_json(ws)
        assert err["type"] == "error" and err["code"] == code and err["fatal"] is True and err["message"]
        with pytest.raises(ConnectionClosed) as info:
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == close_code
    assert metric(service, "callassist_ingest_protocol_errors_total", code=code) == 1
    assert metric(service, "callassist_errors_total", component="ingest", kind="bad_input") == 1
    await assert_still_serving(service, settings, f"after-{code}-{close_code}")
    got = await read_back(settings, call_ended(f"after-{code}-{close_code}"), wait_s=5)
    assert {e.call_id for e in got.events} == {f"after-{code}-{close_code}"}  # the bad one produced nothing


async def test_silent_client_is_closed_after_the_open_timeout(service: IngestService) -> None:
    async with connect(service.url, additional_headers=auth()) as ws:
        err = await next_json(ws, wait_s=5)
        assert err["code"] == "open_timeout"
        with pytest.raises(ConnectionClosed):
            await ws.recv()


# -- bad input mid-call: rejected, the call goes on -----------------------------------
@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (b"\x00" + b"\x01" * 321, "odd_length"),
        (b"\x07" + b"\x00" * 320, "unknown_channel"),
        (b"\x00" + b"\x00" * 20000, "oversize"),  # > 1 s of 8 kHz pcm16, < the 64 KiB message limit
        (b"\x00", "empty_frame"),
        ("\x01\x02 not json at all", "bad_json"),
        ('{"type": "unmute"}', "bad_message"),
    ],
)
async def test_bad_frame_mid_call_is_rejected_and_the_call_continues(
    service: IngestService, settings: IngestSettings, bad: str | bytes, code: str
) -> None:
    call_id = f"mid-{code}"
    async with connect(service.url, additional_headers=auth()) as ws:
        await ws.send(open_message(call_id))
        await next_json(ws)
        await ws.send(b"\x00" + b"\x11" * 1600)
        await ws.send(bad)
        err = await next_json(ws)
        assert err["type"] == "error" and err["code"] == code and err["fatal"] is False
        await ws.send(b"\x00" + b"\x22" * 1600)
        await ws.send('{"type": "close"}')
        assert (await next_json(ws))["type"] == "closed"
    got = (await read_back(settings, call_ended(call_id))).of(call_id)
    assert b"".join(f.payload for f in got.channel("agent")) == b"\x11" * 1600 + b"\x22" * 1600
    assert got.ended(call_id).reason == "hangup"  # type: ignore[union-attr]
    if isinstance(bad, bytes):
        reason = "oversize" if code == "oversize" else "malformed"
        assert metric(service, "callassist_frames_dropped_total", reason=reason) == 1


async def test_message_over_the_transport_limit_closes_but_the_call_still_ends(
    service: IngestService, settings: IngestSettings
) -> None:
    async with connect(service.url, additional_headers=auth(), max_size=None) as ws:
        await ws.send(open_message("call-huge"))
        await next_json(ws)
        await ws.send(b"\x00" + b"\x00" * 1600)
        await ws.send(b"\x00" + b"\x00" * 200_000)  # > ingest_max_message_bytes (64 KiB)
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    got = (await read_back(settings, call_ended("call-huge"))).of("call-huge")
    assert got.ended("call-huge").reason == "protocol_error"  # type: ignore[union-attr]
    assert b"".join(f.payload for f in got.channel("agent")) == b"\x00" * 1600  # audio before it kept
    assert metric(service, "callassist_ingest_protocol_errors_total", code="message_too_big") == 1


async def test_invalid_utf8_text_closes_but_the_call_still_ends(
    service: IngestService, settings: IngestSettings
) -> None:
    async with connect(service.url, additional_headers=auth()) as ws:
        await ws.send(open_message("call-utf8"))
        await next_json(ws)
        await ws.send(b"\x00" + b"\x00" * 3200)
        await ws.send(b"\xff\xfe\x00garbage", text=True)  # a text frame that is not UTF-8
        with pytest.raises(ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1007
    got = (await read_back(settings, call_ended("call-utf8"))).of("call-utf8")
    assert got.ended("call-utf8").reason == "protocol_error"  # type: ignore[union-attr]
    assert len(got.channel("agent")) == 1
    await assert_still_serving(service, settings, "after-utf8")


async def test_too_many_errors_closes_the_connection(
    service: IngestService, settings: IngestSettings
) -> None:
    async with connect(service.url, additional_headers=auth()) as ws:
        await ws.send(open_message("call-noisy"))
        await next_json(ws)
        for _ in range(6):
            await ws.send("junk")
        codes = [(await next_json(ws))["code"] for _ in range(6)]
        assert codes == ["bad_json"] * 5 + ["too_many_errors"]
    got = (await read_back(settings, call_ended("call-noisy"))).of("call-noisy")
    assert got.ended("call-noisy").reason == "protocol_error"  # type: ignore[union-attr]


# -- disconnects and duplicates ------------------------------------------------------
async def test_client_vanishing_mid_call_still_ends_the_call(
    service: IngestService, settings: IngestSettings
) -> None:
    ws = await connect(service.url, additional_headers=auth())
    await ws.send(open_message("call-drop"))
    await next_json(ws)
    await ws.send(b"\x01" + b"\x05" * 4800)  # 0.3 s on the customer channel
    await asyncio.sleep(0.2)
    ws.transport.abort()  # TCP reset, no close frame: a crashed softphone
    got = (await read_back(settings, call_ended("call-drop"))).of("call-drop")
    ended = got.ended("call-drop")
    assert (
        ended is not None and ended.reason == "client_disconnected" and ended.duration == pytest.approx(0.3)
    )
    assert b"".join(f.payload for f in got.channel("customer")) == b"\x05" * 4800  # tail flushed, not lost
    assert [f.seq for f in got.channel("customer")] == [0, 1]
    assert metric(service, "callassist_active_calls", component="ingest") == 0
    await assert_still_serving(service, settings, "after-drop")


async def test_second_connection_with_the_same_call_id_is_refused(
    service: IngestService, settings: IngestSettings
) -> None:
    async with connect(service.url, additional_headers=auth()) as first:
        await first.send(open_message("call-dup"))
        await next_json(first)
        await first.send(b"\x00" + b"\x01" * 3200)
        async with connect(service.url, additional_headers=auth()) as second:
            await second.send(open_message("call-dup", agent_id="intruder"))
            err = await next_json(second)
            assert err["code"] == "duplicate_call" and err["fatal"] is True
            with pytest.raises(ConnectionClosed) as info:
                await second.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 4409
        await first.send(b"\x00" + b"\x02" * 3200)  # the first call is unaffected
        await first.send('{"type": "close"}')
        assert (await next_json(first))["type"] == "closed"
    async with connect(service.url, additional_headers=auth()) as late:  # reuse after the end: refused too
        await late.send(open_message("call-dup"))
        assert (await next_json(late))["code"] == "duplicate_call"
    got = (await read_back(settings, call_ended("call-dup"))).of("call-dup")
    assert [e.kind for e in got.events] == ["started", "ended"] and got.events[0].agent_id == "agent-7"
    assert b"".join(f.payload for f in got.channel("agent")) == b"\x01" * 3200 + b"\x02" * 3200


async def test_shutdown_ends_open_calls(settings: IngestSettings) -> None:
    svc = IngestService(settings, CollectorRegistry())
    await svc.start()
    try:
        async with connect(svc.url, additional_headers=auth()) as ws:
            await ws.send(open_message("call-shutdown"))
            await next_json(ws)
            await ws.send(b"\x00" + b"\x00" * 1000)
            await asyncio.sleep(0.1)
            await svc.stop()
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
            assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    finally:
        await svc.stop()
    got = (await read_back(settings, call_ended("call-shutdown"))).of("call-shutdown")
    assert got.ended("call-shutdown").reason == "server_shutdown"  # type: ignore[union-attr]
    assert len(got.frames) == 1


async def test_gateway_refuses_to_start_without_tokens(make_settings: Callable[..., Any]) -> None:
    from pipeline.ingest.server import ConfigError

    svc = IngestService(make_settings(IngestSettings, ingest_port=0), CollectorRegistry())
    with pytest.raises(ConfigError, match="CALLASSIST_INGEST_TOKENS"):
        await svc.start()
