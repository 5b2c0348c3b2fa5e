"""Fan-out to sockets: visibility rules, redaction and slow-client dropping (assist_ui.fanout)."""

from __future__ import annotations

import asyncio
import json

import pytest

from assist_ui.auth import User
from assist_ui.fanout import Hub
from assist_ui.live_state import LiveState

pytestmark = pytest.mark.unit

AGENT1 = User("agent-1", "A1", "agent")
AGENT2 = User("agent-2", "A2", "agent")
SUP = User("sup-1", "S", "supervisor")
QA = User("qa-1", "Q", "qa")


def drain(sub) -> list[dict]:
    out = []
    while sub.queued:
        out.append(json.loads(sub._queue.popleft().text))
    return out


def started(call_id, agent):
    return {"call_id": call_id, "kind": "started", "ts": 1000.0, "agent_id": agent}


def segment(call_id, seg_id, text):
    return {"call_id": call_id, "channel": "customer", "segment_id": seg_id, "is_final": True, "start": 0.0,
            "end": 1.0, "text": text, "produced_at": 0.0}


def apply(hub, kind, rec):
    change = hub.state.apply(kind, rec, 1.0)
    if change:
        hub.publish(change)


async def test_agent_gets_only_own_calls_unredacted():
    hub = Hub(LiveState())
    s1, s2 = hub.add(AGENT1), hub.add(AGENT2)
    apply(hub, "event", started("c1", "agent-1"))
    apply(hub, "segment", segment("c1", "s1", "我的手机13812345678"))
    got1, got2 = drain(s1), drain(s2)
    assert [m["type"] for m in got1] == ["snapshot", "update"]
    assert got1[1]["item"]["text"] == "我的手机13812345678"  # the agent on the call hears it anyway
    assert got2 == []


async def test_agent_cannot_watch_another_agents_call():
    hub = Hub(LiveState())
    apply(hub, "event", started("c1", "agent-1"))
    s2 = hub.add(AGENT2)
    assert hub.watch(s2, "c1") is False
    assert hub.watch(s2, "does-not-exist") is False
    errors = drain(s2)
    # the same answer for someone else's call and for no call: existence does not leak
    assert [(m["type"], m["error"]) for m in errors] == [("error", "not_found")] * 2
    apply(hub, "segment", segment("c1", "s1", "secret"))
    assert drain(s2) == []


async def test_unassigned_call_is_invisible_to_agents():
    hub = Hub(LiveState())
    s1 = hub.add(AGENT1)
    apply(hub, "segment", segment("c9", "s1", "before the start event"))
    assert hub.watch(s1, "c9") is False
    drain(s1)
    apply(hub, "event", started("c9", "agent-1"))  # now it is theirs: a full snapshot arrives
    msgs = drain(s1)
    assert msgs[0]["type"] == "snapshot" and msgs[0]["call"]["segments"][0]["text"] == "before the start event"


async def test_supervisor_and_qa_watch_any_call_redacted():
    hub = Hub(LiveState())
    apply(hub, "event", started("c1", "agent-1"))
    apply(hub, "segment", segment("c1", "s1", "card 4111 1111 1111 1111"))
    sup, qa = hub.add(SUP), hub.add(QA)
    assert hub.watch(sup, "c1") and hub.watch(qa, "c1")
    apply(hub, "segment", segment("c1", "s2", "mail me at a.b@example.com"))
    for sub in (sup, qa):
        snap, upd = drain(sub)
        assert snap["call"]["segments"][0]["text"] == "card [BANK_CARD]"
        assert upd["item"]["text"] == "mail me at [EMAIL]"


async def test_watch_before_the_call_exists_for_supervisor():
    hub = Hub(LiveState())
    sup = hub.add(SUP)
    assert hub.watch(sup, "later")
    assert drain(sup)[0]["type"] == "pending"
    apply(hub, "event", started("later", "agent-1"))
    assert drain(sup)[0]["type"] == "snapshot"


async def test_transfer_moves_the_call_between_agents():
    hub = Hub(LiveState())
    s1, s2 = hub.add(AGENT1), hub.add(AGENT2)
    apply(hub, "event", started("c1", "agent-1"))
    drain(s1)
    apply(hub, "event", started("c1", "agent-2"))
    assert drain(s1) == [{"type": "removed", "call_id": "c1"}]
    assert drain(s2)[0]["type"] == "snapshot"
    apply(hub, "segment", segment("c1", "s1", "x"))
    assert drain(s1) == [] and len(drain(s2)) == 1


async def test_wall_only_for_supervisors():
    hub = Hub(LiveState())
    apply(hub, "event", started("c1", "agent-1"))
    a, sup = hub.add(AGENT1), hub.add(SUP)
    drain(a)
    assert hub.subscribe_wall(a) is False
    assert drain(a)[0]["error"] == "forbidden"
    assert hub.subscribe_wall(sup)
    full = drain(sup)[0]
    assert full["full"] and [r["call_id"] for r in full["rows"]] == ["c1"]
    assert hub.publish_wall([hub.state.get("c1")], ["gone"]) == 1
    part = drain(sup)[0]
    assert not part["full"] and part["removed"] == ["gone"]


async def test_slow_client_is_dropped_without_affecting_others():
    hub = Hub(LiveState(), queue_max=5)
    fast, slow = hub.add(SUP), hub.add(SUP)
    dropped = []
    slow.on_drop = lambda: dropped.append(True)
    apply(hub, "event", started("c1", "agent-1"))
    hub.watch(fast, "c1")
    hub.watch(slow, "c1")
    received = []

    async def reader():
        while True:
            item = await fast.get()
            received.append(json.loads(item.text))

    task = asyncio.create_task(reader())
    for i in range(20):
        apply(hub, "segment", segment("c1", f"s{i}", f"t{i}"))
        await asyncio.sleep(0)  # the fast reader keeps up
    task.cancel()
    assert [m["item"]["segment_id"] for m in received if m["type"] == "update"] == [f"s{i}" for i in range(20)]
    assert slow.dropped and dropped == [True]
    assert slow not in hub.subscribers and fast in hub.subscribers
    assert await slow.get() is None  # its sender then closes the socket


async def test_get_waits_for_messages():
    hub = Hub(LiveState())
    sub = hub.add(SUP)
    getter = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    assert not getter.done()
    hub.hello(sub)
    item = await asyncio.wait_for(getter, 1)
    assert json.loads(item.text)["user"]["id"] == "sup-1"
