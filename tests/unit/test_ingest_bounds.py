"""Bounds on what an ingest client controls (#18 items 6 and 9), on the sans-I/O protocol."""

from __future__ import annotations

import json

import pytest
from test_ingest_protocol import TOKEN, twilio_media, twilio_start

from pipeline.ingest.admission import CallRegistry
from pipeline.ingest.outputs import GapFill
from pipeline.ingest.protocol import IngestSession, Limits
from streams.contract.audio import AudioFrame

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def twilio_session(clock: Clock, limits: Limits | None = None) -> IngestSession:
    s = IngestSession(registry=CallRegistry(), tokens=[TOKEN], clock=clock, limits=limits)
    s.receive_text(twilio_start())
    return s


def test_item6_gap_fill_cannot_amplify_tiny_messages() -> None:
    # the red-team case: 400 one-byte media messages stamped 10 s apart, sent in ~4 s
    clock = Clock()
    s = twilio_session(clock)
    audio_s, fills = 0.0, []
    for i in range(400):
        clock.t += 0.01
        outs = s.receive_text(twilio_media("inbound", b"\x11", ts=i * 10_000))
        audio_s += sum(len(o.payload) for o in outs if isinstance(o, AudioFrame)) / 8000
        fills += [o for o in outs if isinstance(o, GapFill)]
    elapsed = clock.t - 1000.0
    assert audio_s <= elapsed + 2.5  # at most wall-clock time (+2 s slack), not 1,995 s
    assert sum(f.capped for f in fills) >= 390  # and every cut is counted
    assert sum(f.seconds for f in fills) <= elapsed + 2.0


def test_item6_real_silence_is_still_filled_and_total_is_capped() -> None:
    clock = Clock()
    s = twilio_session(clock, Limits(twilio_max_total_gap_fill_s=4.0))
    s.receive_text(twilio_media("inbound", b"\x11" * 160, ts=0))
    clock.t += 3.0  # three real seconds of held line
    outs = s.receive_text(twilio_media("inbound", b"\x11" * 160, ts=3000))
    (fill,) = [o for o in outs if isinstance(o, GapFill)]
    assert fill.seconds == pytest.approx(2.98, abs=0.01) and not fill.capped
    clock.t += 5.0
    outs = s.receive_text(twilio_media("inbound", b"\x11" * 160, ts=8000))
    (fill,) = [o for o in outs if isinstance(o, GapFill)]
    assert fill.capped and fill.seconds == pytest.approx(4.0 - 2.98, abs=0.01)
    assert json.loads(twilio_start())["event"] == "start"


def test_item6_gap_fill_is_counted_in_metrics() -> None:
    from pipeline.ingest.metrics import IngestMetrics

    m = IngestMetrics()
    m.gap_fill_seconds.inc(1.5)
    m.gap_fill_capped.inc()
    names = {s.name for metric in m.registry.collect() for s in metric.samples}
    assert {"callassist_ingest_gap_fill_seconds_total", "callassist_ingest_gap_fill_capped_total"} <= names


# -- item 9: ingest bounds -----------------------------------------------------------
def test_item9_short_ingest_tokens_are_refused_at_start() -> None:
    from pipeline.ingest.server import ConfigError, check_auth_config
    from pipeline.ingest.settings import IngestSettings

    with pytest.raises(ConfigError, match="shorter than 16"):
        check_auth_config(IngestSettings(ingest_tokens="x"))
    with pytest.raises(ConfigError, match="shorter than 16"):
        check_auth_config(IngestSettings(ingest_tokens="a-long-enough-token-123,short"))
    assert check_auth_config(IngestSettings(ingest_tokens="a-long-enough-token-123")) == ["a-long-enough-token-123"]


def test_item9_wrong_tokens_back_off_per_address() -> None:
    from pipeline.ingest.server import AuthBackoff

    clock = Clock(0.0)
    backoff = AuthBackoff(limit=3, window_s=60.0, max_addresses=2, clock=clock)
    for _ in range(3):
        assert not backoff.blocked("10.0.0.1")
        backoff.failed("10.0.0.1")
    assert backoff.blocked("10.0.0.1") and not backoff.blocked("10.0.0.2")
    clock.t = 61.0
    assert not backoff.blocked("10.0.0.1")  # the window passed
    for address in ("a", "b", "c"):
        backoff.failed(address)
    assert len(backoff._failures) == 2  # bounded


def test_item9_an_open_call_that_sends_nothing_times_out() -> None:
    from pipeline.ingest.outputs import Close
    from streams.contract.records import CallEvent

    s = twilio_session(Clock())
    outs = s.idle_timed_out()
    (ended,) = [o for o in outs if isinstance(o, CallEvent)]
    assert ended.kind == "ended" and ended.reason == "idle_timeout"
    assert [o.code for o in outs if isinstance(o, Close)] == [4408]
    assert s.idle_timed_out() == []  # once


class _NullSink:
    def __init__(self) -> None:
        self.events: list = []

    async def send_audio(self, frame) -> bool:
        return True

    async def send_event(self, event) -> None:
        self.events.append(event)


async def _gateway(**settings):
    from pipeline.ingest.metrics import IngestMetrics
    from pipeline.ingest.server import IngestGateway
    from pipeline.ingest.settings import IngestSettings

    sink = _NullSink()
    gw = IngestGateway(IngestSettings(ingest_port=0, ingest_tokens="unit-ingest-token-000001", **settings),
                       sink, IngestMetrics())
    await gw.start()
    return gw, sink


async def _status(port: int, head: str) -> bytes:
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head.encode())
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return line


async def test_item9_ingest_duplicate_headers_bodies_and_wrong_token_backoff() -> None:
    gw, _ = await _gateway(ingest_auth_failures=2)
    try:
        ws_head = ("GET /ingest HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
        dup = ws_head + "Authorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n"
        assert (await _status(gw.port, dup)).startswith(b"HTTP/1.1 400")
        body = "POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        assert (await _status(gw.port, body)).startswith(b"HTTP/1.1 413")
        wrong = ws_head + "Authorization: Bearer wrong-token-wrong-token\r\n\r\n"
        assert (await _status(gw.port, wrong)).startswith(b"HTTP/1.1 401")
        assert (await _status(gw.port, wrong)).startswith(b"HTTP/1.1 401")
        assert (await _status(gw.port, wrong)).startswith(b"HTTP/1.1 429")  # backed off
    finally:
        await gw.stop()


async def test_item9_an_idle_open_call_is_ended_by_the_gateway() -> None:
    import asyncio

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    gw, sink = await _gateway(ingest_idle_timeout_s=0.3)
    try:
        async with connect(f"ws://127.0.0.1:{gw.port}/", additional_headers={
                "Authorization": "Bearer unit-ingest-token-000001"}) as ws:
            await ws.send(json.dumps({"type": "open", "call_id": "idle-1", "format": {
                "encoding": "pcm16le", "sample_rate": 16000}, "channels": ["agent"]}))
            replies = []
            with pytest.raises(ConnectionClosed):  # closed by the server
                while True:
                    replies.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
        assert ws.close_code == 4408, replies
    finally:
        await gw.stop()
    assert [e.reason for e in sink.events if e.kind == "ended"] == ["idle_timeout"]
