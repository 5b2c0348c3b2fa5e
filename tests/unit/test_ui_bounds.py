"""Bounds on what a UI client or a record controls (#18 item 9)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from assist_ui.auth import User, load_users
from assist_ui.fanout import MAX_SNAPSHOT_BYTES, MAX_WATCHED, Hub, dumps
from assist_ui.live_state import LiveState
from assist_ui.server import UiServer
from assist_ui.session import CLOSE_BAD_MESSAGE
from assist_ui.settings import UiSettings
from streams.contract.codec import RecordDecodeError, decode
from streams.contract.records import EmotionState, TranscriptSegment

pytestmark = pytest.mark.unit

SUP = User("sup-1", "S", "supervisor")
SUP_TOKEN = "unit-supervisor-token-0001"


def drain(sub) -> list[dict]:
    out = []
    while sub.queued:
        out.append(json.loads(sub._queue.popleft().text))
    return out


def test_ops_per_socket_watched_calls_are_bounded() -> None:
    hub = Hub(LiveState())
    sub = hub.add(SUP)
    drain(sub)
    for i in range(MAX_WATCHED + 50):
        hub.watch(sub, f"call-{i}")
    assert len(sub.watching) == MAX_WATCHED
    errors = [m for m in drain(sub) if m.get("error") == "too_many_watched"]
    assert len(errors) == 50
    hub.unwatch(sub, "call-0")
    assert hub.watch(sub, "call-new") and len(sub.watching) == MAX_WATCHED


def test_calls_held_are_bounded_ended_first_then_least_recently_active() -> None:
    state = LiveState(max_calls=3)
    for i, call in enumerate(("a", "b", "c")):
        state.apply("event", {"call_id": call, "kind": "started", "ts": 1.0, "agent_id": "x"}, float(i))
    state.apply("event", {"call_id": "b", "kind": "ended", "ts": 5.0, "agent_id": "x"}, 5.0)
    state.apply("event", {"call_id": "d", "kind": "started", "ts": 6.0, "agent_id": "x"}, 6.0)
    assert state.get("b") is None and len(state) == 3  # the ended call went first
    state.apply("event", {"call_id": "a", "kind": "started", "ts": 7.0, "agent_id": "y"}, 7.0)  # a: active again
    state.apply("event", {"call_id": "e", "kind": "started", "ts": 8.0, "agent_id": "x"}, 8.0)
    assert state.get("c") is None and state.get("a") is not None  # then the least recently active


def test_eviction_scans_only_ended_and_idle_calls() -> None:
    state = LiveState(max_calls=100_000, ended_retention_s=10, idle_timeout_s=100)
    for i in range(20_000):
        state.apply("event", {"call_id": f"c{i}", "kind": "started", "ts": 1.0, "agent_id": "x"}, 1000.0 + i * 0.001)
    state.apply("event", {"call_id": "c5", "kind": "ended", "ts": 1000.0, "agent_id": "x"}, 1020.0)
    assert state.evict(1021.0) == ["c5"]  # ended past retention; nobody idle yet
    gone = state.evict(1000.0 + 100.0 + 20_000 * 0.001 + 1)
    assert len(gone) == 19_999 and len(state) == 0


def test_text_per_segment_and_out_of_range_values_are_refused() -> None:
    seg = {"call_id": "c", "channel": "agent", "segment_id": "s", "is_final": True, "start": 0.0, "end": 1.0}
    with pytest.raises(RecordDecodeError, match="characters"):
        decode(TranscriptSegment, json.dumps({**seg, "text": "x" * 100_000}))
    with pytest.raises(RecordDecodeError, match="outside"):
        decode(TranscriptSegment, json.dumps({**seg, "text": "x", "start": -1.0}))
    state = {"call_id": "c", "channel": "customer", "state": "calm", "trend": "steady"}
    with pytest.raises(RecordDecodeError, match="outside"):
        decode(EmotionState, json.dumps({**state, "arousal": 1.5}))
    assert decode(EmotionState, json.dumps({**state, "arousal": 1.0})).arousal == 1.0


def test_snapshot_is_truncated_not_refused() -> None:
    state = LiveState()
    hub = Hub(state)
    state.apply("event", {"call_id": "big", "kind": "started", "ts": 1.0, "agent_id": "x"}, 1.0)
    for i in range(400):
        state.apply("segment", {"call_id": "big", "channel": "customer", "segment_id": f"s{i}", "is_final": True,
                                "start": float(i), "end": i + 0.5, "text": f"{i} " + "话" * 3000}, 1.0)
    call = state.get("big")
    assert call is not None and len(json.dumps(call.snapshot(), ensure_ascii=False).encode()) > 3 * MAX_SNAPSHOT_BYTES
    item = hub.snapshot_item(SUP, call)
    assert len(item.text.encode()) <= MAX_SNAPSHOT_BYTES
    snap = json.loads(item.text)["call"]
    assert snap["truncated"] is True and snap["segments"]
    assert snap["segments"][-1]["text"].startswith("399 ")  # the newest are kept


def test_bidi_override_characters_are_neutralised_for_display() -> None:
    text = dumps({"name": "invoice_\u202egnp.exe", "ok": "普通文本 ok"})
    assert "\u202e" not in text and json.loads(text)["name"] == "invoice_\ufffdgnp.exe"
    assert json.loads(text)["ok"] == "普通文本 ok"


@pytest.fixture
async def server():
    users = load_users(json.dumps({"users": [{"id": "sup-1", "role": "supervisor", "token": SUP_TOKEN}]}))
    srv = UiServer(UiSettings(ui_port=0, ui_users_json="x"), users, None)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_nested_json_on_ws_closes_4400(server) -> None:
    async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        await ws.send(json.dumps({"op": "auth", "token": SUP_TOKEN}))
        assert json.loads(await ws.recv())["type"] == "hello"
        await ws.send("[" * 30000)
        with pytest.raises(ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == CLOSE_BAD_MESSAGE


@pytest.mark.parametrize("header", ["Origin", "Host", "Authorization"])
async def test_duplicate_headers_are_a_400_not_a_500(server, header: str) -> None:
    request = (f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n{header}: http://a\r\n{header}: http://b\r\n\r\n"
               if header != "Host" else "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, family=socket.AF_INET)
    writer.write(request.encode())
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status.startswith(b"HTTP/1.1 400"), status


@pytest.mark.parametrize(("head", "status"), [
    ("POST /api/qa/calls/c1/review?verdict=true_positive HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
     b"HTTP/1.1 413"),
    ("POST /api/me HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", b"HTTP/1.1 501"),
    ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n", b"HTTP/1.1 200"),
])
async def test_a_request_with_a_body_is_answered(server, head: str, status: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, family=socket.AF_INET)
    writer.write(head.encode())
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert line.startswith(status), line
