"""The UI server against a real embedded broker, real sockets and a real SQLite store.

Records go through Kafka topics into the running app (live bridge + QA sink); clients are
real websockets connections and real HTTP requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from assist_ui.app import UiApp
from assist_ui.samples import sample_call
from assist_ui.settings import UiSettings
from streams.platform.kafka_clients import make_producer, start_client

pytestmark = [pytest.mark.integration, pytest.mark.both_brokers]

TOKENS = {"agent-1": "it-agent-one-token-0001", "agent-2": "it-agent-two-token-0002",
          "sup-1": "it-supervisor-token-0003", "qa-1": "it-qa-reviewer-token-004"}
ROLES = {"agent-1": "agent", "agent-2": "agent", "sup-1": "supervisor", "qa-1": "qa"}
_client_log = logging.getLogger("tests.ui.client")  # never DEBUG: it would log our own frames


@pytest.fixture
async def ui(make_settings, tmp_path):
    users = {"users": [{"id": u, "role": ROLES[u], "token": t} for u, t in TOKENS.items()]}
    settings = make_settings(
        UiSettings, ui_port=0, ui_users_json=json.dumps(users), ui_consumer_start="earliest",
        ui_auth_timeout_s=1.0, ui_client_queue_max=50, ui_wall_interval_s=0.1,
        # Tansu keeps a departed group member until its session times out: a fresh group per
        # test keeps one test's sink from delaying the next one's start
        ui_sink_group=f"qa-sink-{uuid.uuid4().hex[:8]}",
    )
    app = UiApp(settings)
    await app.start()
    await asyncio.wait_for(asyncio.gather(app.bridge_ready.wait(), app.sink_ready.wait()), 30)
    try:
        yield app
    finally:
        await app.stop()


async def publish(settings: UiSettings, steps, only: set[str] | None = None) -> None:
    producer = make_producer(settings)
    await start_client(producer, settings)
    try:
        for step in steps:
            if only is None or step.topic in only:
                topic = getattr(settings, f"topic_{step.topic}")
                await producer.send_and_wait(topic, step.record.to_bytes(), key=step.record.call_id.encode())
    finally:
        await producer.stop()


class Client:
    """A websockets client that records every message it receives."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []
        self.closed = False
        self.close_code: int | None = None
        self._task = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, app: UiApp, user: str | None = None, **kw: Any) -> Client:
        ws = await connect(f"ws://127.0.0.1:{app.server.port}/ws", logger=_client_log, **kw)
        if user:
            await ws.send(json.dumps({"op": "auth", "token": TOKENS[user]}))
        return cls(ws)

    async def _read(self) -> None:
        # `async for` ends on a normal close and raises on an error close: either way,
        # the code the server sent is on the connection afterwards
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                self.messages.append(json.loads(raw))
        self.close_code = self.ws.close_code
        self.closed = True

    async def wait_for(self, pred, within: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for m in self.messages:
                if pred(m):
                    return m
            if self.closed:
                break
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching message; got {[m.get('type') for m in self.messages]}")

    async def send(self, obj: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(obj))

    async def close(self) -> None:
        await self.ws.close()
        await self._task


def http(app: UiApp, method: str, path: str, token: str | None = None) -> tuple[int, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{app.server.port}{path}", method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def about(call_id: str):
    return lambda m: call_id in json.dumps(m)


async def test_replayed_call_reaches_its_agent_and_nobody_else(ui):
    agent1 = await Client.open(ui, "agent-1")
    agent2 = await Client.open(ui, "agent-2")
    sup = await Client.open(ui, "sup-1")
    await agent1.wait_for(lambda m: m["type"] == "hello")
    await sup.wait_for(lambda m: m["type"] == "hello")
    await sup.send({"op": "wall"})
    steps = sample_call("it-call-1", "agent-1", "zh")
    await publish(ui.settings, steps, only={"events", "transcripts", "alerts", "suggestions", "assist_emotion"})

    final = [s.record for s in steps if s.topic == "transcripts" and s.record.is_final]
    await agent1.wait_for(lambda m: m["type"] == "update" and m["kind"] == "segment"
                          and m["item"]["segment_id"] == final[-1].segment_id and m["item"]["is_final"])
    await agent1.wait_for(lambda m: m["type"] == "update" and m["kind"] == "alert")
    await agent1.wait_for(lambda m: m["type"] == "update" and m["kind"] == "suggestion")
    # the agent on the call sees the customer's number; the supervisor wall row is redacted
    assert any("13812345678" in json.dumps(m, ensure_ascii=False) for m in agent1.messages)
    row = await sup.wait_for(lambda m: m["type"] == "wall" and any(
        r["call_id"] == "it-call-1" and r["alerts_open"] for r in m["rows"]))
    assert row["rows"][0]["max_severity"] == "high" and row["rows"][0]["customer_id"] == "[PHONE]"
    assert not any("13812345678" in json.dumps(m, ensure_ascii=False) for m in sup.messages)

    # agent-2 tries to look at agent-1's call: refused, and receives none of it
    await agent2.send({"op": "watch", "call_id": "it-call-1"})
    err = await agent2.wait_for(lambda m: m["type"] == "error")
    assert err["error"] == "not_found"
    await agent2.send({"op": "ping"})
    await agent2.wait_for(lambda m: m["type"] == "pong")
    assert [m for m in agent2.messages if about("it-call-1")(m) and m["type"] != "error"] == []
    status, body = await asyncio.to_thread(http, ui, "GET", "/api/live/calls", TOKENS["agent-2"])
    assert status == 200 and body["calls"] == []

    # the catalogue series (docs/metrics.md) are fed
    reg = ui.metrics.registry
    assert reg.get_sample_value("callassist_record_to_websocket_seconds_count",
                                {"topic": ui.settings.topic_transcripts}) >= len(final)
    assert reg.get_sample_value("callassist_websocket_clients", {"role": "agent"}) == 2
    assert reg.get_sample_value("callassist_active_calls", {"component": "ui"}) == 1
    info = [x for m in reg.collect() if m.name == "callassist_build_info" for x in m.samples]
    assert [(x.labels["component"], x.value) for x in info] == [("ui", 1.0)]
    assert reg.get_sample_value("callassist_consumer_lag", {"topic": ui.settings.topic_transcripts}) is not None
    # a reconnecting agent gets the whole call back as one snapshot
    again = await Client.open(ui, "agent-1")
    snap = await again.wait_for(lambda m: m["type"] == "snapshot")
    assert [s["text"] for s in snap["call"]["segments"]] == [r.text for r in final]
    assert snap["call"]["alerts"][0]["severity"] == "high"
    for c in (agent1, agent2, sup, again):
        await c.close()


async def test_socket_authentication(ui):
    for first in ({"op": "auth", "token": "wrong-token-xxxxxxxxx"}, {"op": "hello"}, "not json", None):
        client = await Client.open(ui)
        if first is not None:
            await client.ws.send(first if isinstance(first, str) else json.dumps(first))
        await asyncio.wait_for(client._task, 5)  # None: the 1 s auth timeout closes it
        assert client.close_code == 4401
        assert not [m for m in client.messages if m.get("type") == "hello"]
    client = await Client.open(ui, "qa-1")
    await client.wait_for(lambda m: m["type"] == "hello")
    await client.ws.send("[1, 2]")  # authenticated but malformed: closed with 4400
    await asyncio.wait_for(client._task, 5)
    assert client.close_code == 4400
    # another site's page cannot open a socket on the user's behalf
    with pytest.raises(InvalidStatus) as err:
        await connect(f"ws://127.0.0.1:{ui.server.port}/ws", origin="http://evil.example", logger=_client_log)
    assert err.value.response.status_code == 403
    assert ui.metrics.auth_failures.labels("ws")._value.get() == 3  # the timeout is no token


async def test_slow_client_is_dropped_and_recovers_with_a_snapshot(ui):
    await publish(ui.settings, sample_call("it-slow", "agent-1", "en")[:1])  # the start event
    fast = await Client.open(ui, "sup-1")
    await fast.send({"op": "watch", "call_id": "it-slow"})
    await fast.wait_for(lambda m: m["type"] == "snapshot")
    # a client that stops reading: tiny receive buffer, a short frame queue, no compression
    # (compressed repetitive text would never fill a TCP buffer), no keepalive of its own
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", ui.server.port))
    slow = await connect(f"ws://127.0.0.1:{ui.server.port}/ws", sock=sock, max_queue=4, compression=None,
                         logger=_client_log, ping_interval=None)
    await slow.send(json.dumps({"op": "auth", "token": TOKENS["qa-1"]}))
    await slow.send(json.dumps({"op": "watch", "call_id": "it-slow"}))
    await asyncio.sleep(0.2)
    n = 0
    text = "x" * 2000
    while ui.metrics.clients_dropped._value.get() == 0 and n < 20000:
        rec = {"call_id": "it-slow", "channel": "customer", "segment_id": f"s{n}", "is_final": True,
               "start": float(n), "end": n + 0.5, "text": f"{n} {text}"}
        ui.bridge.handle("segment", json.dumps(rec).encode())
        n += 1
        if n % 20 == 0:
            await asyncio.sleep(0.001)  # let the fast client's socket drain
    assert ui.metrics.clients_dropped._value.get() == 1, f"slow client never dropped after {n} updates"
    # the fast client was not held up: it received every update, in order
    await fast.wait_for(lambda m: m.get("item", {}).get("segment_id") == f"s{n - 1}")
    got = [m["item"]["segment_id"] for m in fast.messages if m["type"] == "update"]
    assert got == [f"s{i}" for i in range(n)]
    # the slow one gets the close code once it reads what was already sent
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(slow.recv(), 10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    # it reconnects and gets the current state in one snapshot
    back = await Client.open(ui, "qa-1")  # the default 1 MiB limit: a huge call's snapshot is cut to fit (#18)
    await back.send({"op": "watch", "call_id": "it-slow"})
    snap = await back.wait_for(lambda m: m["type"] == "snapshot")
    segments = snap["call"]["segments"]
    assert snap["call"]["v"] == ui.server.state.get("it-slow").version and segments[-1]["segment_id"] == f"s{n - 1}"
    assert len(segments) == n or snap["call"]["truncated"] is True
    await fast.close()
    await back.close()


async def test_qa_sink_and_api(ui):
    def sink_count(result: str) -> float:
        return ui.metrics.sink_calls.labels(result)._value.get()

    steps = sample_call("it-qa-1", "agent-1", "zh")
    summary = steps[-1].record
    producer = make_producer(ui.settings)
    await start_client(producer, ui.settings)
    try:
        topic = ui.settings.topic_qa_calls
        await producer.send_and_wait(topic, b"{not json", key=b"bad")
        await producer.send_and_wait(topic, b'{"call_id": 5}', key=b"bad")
        await producer.send_and_wait(topic, summary.to_bytes(), key=b"it-qa-1")
        await producer.send_and_wait(topic, summary.to_bytes(), key=b"it-qa-1")  # redelivery
        await producer.send_and_wait(topic, sample_call("it-qa-2", "agent-2", "en")[-1].record.to_bytes(), key=b"x")
    finally:
        await producer.stop()
    for _ in range(200):  # the sink works asynchronously: up to 20 s
        if sink_count("inserted") >= 2 and sink_count("duplicate") >= 1:
            break
        await asyncio.sleep(0.1)
    assert (sink_count("inserted"), sink_count("duplicate"), sink_count("malformed")) == (2, 1, 2)
    reg = ui.metrics.registry
    assert reg.get_sample_value("callassist_records_malformed_total", {"topic": ui.settings.topic_qa_calls}) == 2
    assert reg.get_sample_value("callassist_errors_total", {"component": "ui", "kind": "malformed_record"}) == 2

    status, body = await asyncio.to_thread(http, ui, "GET", "/api/qa/calls?sort=risk", TOKENS["qa-1"])
    assert status == 200 and [i["call_id"] for i in body["items"]] == ["it-qa-1", "it-qa-2"]
    assert (await asyncio.to_thread(http, ui, "GET", "/api/qa/calls", TOKENS["agent-1"]))[0] == 403
    assert (await asyncio.to_thread(http, ui, "GET", "/api/qa/calls", None))[0] == 401
    assert (await asyncio.to_thread(http, ui, "GET", "/api/qa/calls?severity=bogus", TOKENS["qa-1"]))[0] == 400
    status, call = await asyncio.to_thread(http, ui, "GET", "/api/qa/calls/it-qa-1", TOKENS["sup-1"])
    assert status == 200 and "13812345678" not in json.dumps(call, ensure_ascii=False)
    # supervisors read QA, only QA writes verdicts
    path = "/api/qa/calls/it-qa-1/review?verdict=true_positive&note=confirmed"
    assert (await asyncio.to_thread(http, ui, "POST", path, TOKENS["sup-1"]))[0] == 403
    assert (await asyncio.to_thread(http, ui, "GET", path, TOKENS["qa-1"]))[0] == 405
    status, review = await asyncio.to_thread(http, ui, "POST", path, TOKENS["qa-1"])
    assert status == 200 and review["reviewer"] == "qa-1"
    assert (await asyncio.to_thread(http, ui, "POST", "/api/qa/calls/nope/review?verdict=true_positive",
                                    TOKENS["qa-1"]))[0] == 404
    status, call = await asyncio.to_thread(http, ui, "GET", "/api/qa/calls/it-qa-1", TOKENS["qa-1"])
    assert call["reviews"][0]["verdict"] == "true_positive"


async def test_tokens_never_reach_the_logs(ui, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("tests.ui.client").setLevel(logging.INFO)
    client = await Client.open(ui, "qa-1")
    await client.wait_for(lambda m: m["type"] == "hello")
    await client.close()
    bad = await Client.open(ui)
    await bad.ws.send(json.dumps({"op": "auth", "token": "wrong-secret-token-zzz"}))
    await asyncio.wait_for(bad._task, 5)
    await asyncio.to_thread(http, ui, "GET", "/api/me", TOKENS["qa-1"])
    await asyncio.to_thread(http, ui, "GET", "/api/me", "wrong-secret-token-zzz")
    assert any(r.name.startswith("assist_ui.ws") for r in caplog.records), "expected websockets debug logs"
    assert TOKENS["qa-1"] not in caplog.text and "wrong-secret-token-zzz" not in caplog.text


async def test_pages_and_security_headers(ui):
    def get(path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{ui.server.port}{path}", timeout=10) as r:
            return r.status, dict(r.headers), r.read()

    for path in ("/agent", "/supervisor", "/qa", "/qa/call?id=x", "/static/js/agent.js"):
        status, headers, body = await asyncio.to_thread(get, path)
        assert status == 200 and body
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
    status, _, body = await asyncio.to_thread(get, "/readyz")
    assert status == 200 and body == b"ready\n"


async def test_supervisor_watching_a_long_call_gets_it_redacted_then_live(ui):
    # over INLINE_REDACTION_SEGMENTS: the snapshot is redacted in a worker thread (SnapshotJob)
    await publish(ui.settings, sample_call("it-long", "agent-1", "en")[:1])  # the start event
    sup = await Client.open(ui, "sup-1")
    await sup.wait_for(lambda m: m["type"] == "hello")
    for n in range(300):
        text = "my phone is 13812345678" if n == 0 else f"line {n}"
        rec = {"call_id": "it-long", "channel": "customer", "segment_id": f"s{n}", "is_final": True,
               "start": float(n), "end": n + 0.5, "text": text}
        ui.bridge.handle("segment", json.dumps(rec).encode())
    await sup.send({"op": "watch", "call_id": "it-long"})
    snap = await sup.wait_for(lambda m: m["type"] == "snapshot" and m["call"]["call_id"] == "it-long")
    assert "13812345678" not in json.dumps(snap) and len(snap["call"]["segments"]) == 300
    assert "[PHONE]" in snap["call"]["segments"][0]["text"]
    rec = {"call_id": "it-long", "channel": "customer", "segment_id": "s300", "is_final": True,
           "start": 300.0, "end": 300.5, "text": "and live again"}
    ui.bridge.handle("segment", json.dumps(rec).encode())
    await sup.wait_for(lambda m: m.get("item", {}).get("segment_id") == "s300")  # held updates: unit tests
    await sup.close()
