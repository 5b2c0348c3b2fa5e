"""Live actions over the real socket: alert acknowledgement, supervisor whisper / "help is
coming", raised hand — stored in the real SQLite QA store, shown to the right people only.

The call comes through the real embedded broker into the running app (see test_ui_server).
"""

from __future__ import annotations

import asyncio
import time

import pytest
from test_ui_server import Client, http, publish, ui  # noqa: F401  (ui is the app fixture)

from assist_ui.samples import sample_call

pytestmark = pytest.mark.integration

ALERT = "forbidden.guaranteed_return:act-1:agent:3"


def _action_update(kind: str):
    return lambda m: m.get("type") == "update" and m.get("kind") == "action" and m["item"]["action"]["kind"] == kind


async def _live_call(app) -> tuple[Client, Client, Client]:
    steps = [s for s in sample_call("act-1", "agent-1", "zh") if s.topic not in ("qa_calls",)
             and not (s.topic == "events" and s.record.kind == "ended")]
    agent = await Client.open(app, "agent-1")
    other = await Client.open(app, "agent-2")
    sup = await Client.open(app, "sup-1")
    await publish(app.settings, steps)
    await agent.wait_for(lambda m: m.get("type") == "update" and m.get("kind") == "alert")
    await sup.send({"op": "wall"})
    await sup.send({"op": "watch", "call_id": "act-1"})
    await sup.wait_for(lambda m: m.get("type") == "snapshot")
    return agent, other, sup


async def test_ack_whisper_help_and_raised_hand(ui):  # noqa: F811
    agent, other, sup = await _live_call(ui)
    # only the agent on the call may acknowledge, and only an alert the call has
    await other.send({"op": "ack", "call_id": "act-1", "alert_id": ALERT})
    assert (await other.wait_for(lambda m: m.get("type") == "error"))["error"] == "not_found"
    await sup.send({"op": "ack", "call_id": "act-1", "alert_id": ALERT})
    assert (await sup.wait_for(lambda m: m.get("op") == "ack"))["error"] == "forbidden"
    await agent.send({"op": "ack", "call_id": "act-1", "alert_id": "nope"})
    assert (await agent.wait_for(lambda m: m.get("op") == "ack" and m["type"] == "error"))["error"] == "no_such_alert"

    await agent.send({"op": "ack", "call_id": "act-1", "alert_id": ALERT})
    seen = await sup.wait_for(_action_update("ack"))  # the supervisor watching the call sees it
    assert seen["item"]["actions"]["acks"][ALERT]["by"] == "agent-1"
    row = await sup.wait_for(lambda m: m.get("type") == "wall" and any(r.get("acked") for r in m["rows"]))
    assert row["rows"][0]["acked"] == 1
    await agent.send({"op": "ack", "call_id": "act-1", "alert_id": ALERT})  # twice: no second record
    await agent.wait_for(lambda m: m.get("type") == "action_ok" and m["action_id"] == "")

    # the agent raises a hand; the wall shows it; the supervisor whispers and says help is coming
    await agent.send({"op": "raise_hand", "call_id": "act-1", "note": "客户要投诉"})
    await sup.wait_for(lambda m: m.get("type") == "wall" and any(r.get("hand") for r in m["rows"]))
    await agent.send({"op": "whisper", "call_id": "act-1", "text": "hi"})
    assert (await agent.wait_for(lambda m: m.get("op") == "whisper"))["error"] == "forbidden"
    sent = time.monotonic()
    await sup.send({"op": "whisper", "call_id": "act-1", "text": "先道歉，客户电话 13812345678 回拨"})
    got = await agent.wait_for(_action_update("whisper"))
    whisper_s = time.monotonic() - sent
    assert got["item"]["action"]["text"] == "先道歉，客户电话 13812345678 回拨"  # the agent sees it as written
    assert got["item"]["actions"]["hand"] is None  # an answer lowers the hand
    assert whisper_s < 1.0, f"whisper took {whisper_s:.2f} s"
    echoed = await sup.wait_for(_action_update("whisper"))
    assert "13812345678" not in str(echoed) and "[PHONE]" in echoed["item"]["action"]["text"]
    await sup.send({"op": "whisper", "call_id": "act-1", "help": True})
    helped = await agent.wait_for(_action_update("help"))
    assert helped["item"]["actions"]["help"]["by"] == "sup-1"
    assert not any(m.get("kind") == "action" for m in other.messages)  # another agent sees none of it

    # a reconnecting panel gets it all back in the snapshot
    again = await Client.open(ui, "agent-1")
    snap = await again.wait_for(lambda m: m.get("type") == "snapshot")
    assert ALERT in snap["call"]["actions"]["acks"] and snap["call"]["actions"]["help"]["by"] == "sup-1"

    # stored and auditable, redacted; QA reads them with the stored call
    stored = await ui.store.actions_of("act-1")
    assert [a["kind"] for a in stored] == ["ack", "raise_hand", "whisper", "help"]
    assert all("13812345678" not in a["text"] for a in stored)
    await publish(ui.settings, sample_call("act-1", "agent-1", "zh")[-1:])
    for _ in range(100):
        status, body = await asyncio.to_thread(http, ui, "GET", "/api/qa/calls/act-1", "it-qa-reviewer-token-004")
        if status == 200:
            break
        await asyncio.sleep(0.1)
    assert [a["kind"] for a in body["actions"]] == ["ack", "raise_hand", "whisper", "help"]
    for c in (agent, other, sup, again):
        await c.close()


async def test_names_for_the_wall_and_bad_requests(ui):  # noqa: F811
    sup = await Client.open(ui, "sup-1")
    await sup.send({"op": "names", "ids": ["agent-1", "ghost"]})
    names = await sup.wait_for(lambda m: m.get("type") == "names")
    assert names["names"] == {"agent-1": "agent-1", "ghost": "ghost"}  # the test users have no display name
    await sup.send({"op": "names", "ids": "agent-1"})
    assert (await sup.wait_for(lambda m: m.get("op") == "names" and m["type"] == "error"))["error"] == "bad_request"
    await sup.send({"op": "whisper", "call_id": "no-such-call", "text": "x"})
    assert (await sup.wait_for(lambda m: m.get("op") == "whisper"))["error"] == "not_found"
    agent = await Client.open(ui, "agent-1")
    await agent.send({"op": "names", "ids": ["sup-1"]})
    assert (await agent.wait_for(lambda m: m.get("op") == "names"))["error"] == "forbidden"
    for c in (sup, agent):
        await c.close()
