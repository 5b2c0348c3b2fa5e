"""A watcher's redacted snapshot of a long call is built off the event loop (assist_ui.fanout
SnapshotJob), and nothing published meanwhile is lost or sent before it."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

import assist_ui.fanout as fanout
from assist_ui.auth import User
from assist_ui.fanout import INLINE_REDACTION_SEGMENTS, Hub, SnapshotJob
from assist_ui.live_state import LiveState
from assist_ui.session import BuildSnapshot, Session

pytestmark = pytest.mark.unit

AGENT = User("agent-1", "A1", "agent")
SUP = User("sup-1", "S", "supervisor")
PHONE = "13812345678"


def drain(sub) -> list[dict]:
    out = []
    while (item := sub.pop()) is not None:
        out.append(json.loads(item.text))
    return out


def _apply(hub: Hub, kind: str, rec: dict) -> None:
    change = hub.state.apply(kind, rec, 1.0)
    if change:
        hub.publish(change)


def _segment(n: int, text: str) -> dict:
    return {"call_id": "c1", "channel": "customer", "segment_id": f"s{n}", "is_final": True, "start": float(n),
            "end": n + 0.9, "text": text, "produced_at": 0.0}


def _long_call(hub: Hub, segments: int) -> None:
    _apply(hub, "event", {"call_id": "c1", "kind": "started", "ts": 1000.0, "agent_id": "agent-1"})
    for n in range(segments):
        _apply(hub, "segment", _segment(n, f"我的手机{PHONE}" if n == 0 else f"line {n}"))


async def test_long_call_snapshot_is_a_job_and_updates_wait_for_it():
    hub = Hub(LiveState())
    _long_call(hub, INLINE_REDACTION_SEGMENTS + 1)
    sup = hub.add(SUP)
    job = hub.watch(sup, "c1")
    assert isinstance(job, SnapshotJob)
    _apply(hub, "segment", _segment(9999, "said while the snapshot was built"))
    assert drain(sup) == []  # nothing before the snapshot
    item = await asyncio.to_thread(job.build)
    hub.deliver(job, item)
    snap, update = drain(sup)
    assert snap["type"] == "snapshot" and len(snap["call"]["segments"]) == INLINE_REDACTION_SEGMENTS + 1
    assert PHONE not in json.dumps(snap, ensure_ascii=False) and "[PHONE]" in snap["call"]["segments"][0]["text"]
    assert "s9999" not in {s["segment_id"] for s in snap["call"]["segments"]}  # copied when the watch came
    assert update["type"] == "update" and update["item"]["segment_id"] == "s9999"
    assert update["v"] > snap["call"]["v"]
    _apply(hub, "segment", _segment(10000, "after"))
    assert [m["item"]["segment_id"] for m in drain(sup)] == ["s10000"]  # straight through again


async def test_redaction_of_the_job_runs_on_the_thread_that_builds_it(monkeypatch):
    threads: set[int] = set()
    real = fanout.redact_obj

    def spy(*args, **kwargs):
        threads.add(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(fanout, "redact_obj", spy)
    hub = Hub(LiveState())
    _long_call(hub, INLINE_REDACTION_SEGMENTS + 1)
    sup = hub.add(SUP)
    job = hub.watch(sup, "c1")
    assert isinstance(job, SnapshotJob) and not threads  # nothing redacted on the loop
    await asyncio.to_thread(job.build)
    assert threads and threading.get_ident() not in threads


async def test_short_call_and_the_agents_own_call_stay_inline():
    hub = Hub(LiveState())
    _long_call(hub, INLINE_REDACTION_SEGMENTS)
    sup = hub.add(SUP)
    assert hub.watch(sup, "c1") is True
    assert drain(sup)[0]["type"] == "snapshot"
    hub2 = Hub(LiveState())
    _long_call(hub2, INLINE_REDACTION_SEGMENTS + 50)
    agent = hub2.add(AGENT)  # unredacted: only a copy, no redaction to move off the loop
    assert hub2.watch(agent, "c1") is True
    assert PHONE in json.dumps(drain(agent), ensure_ascii=False)


async def test_unwatch_or_disconnect_while_building_sends_nothing():
    hub = Hub(LiveState())
    _long_call(hub, INLINE_REDACTION_SEGMENTS + 1)
    sup = hub.add(SUP)
    job = hub.watch(sup, "c1")
    assert isinstance(job, SnapshotJob)
    assert hub.watch(sup, "c1") is True  # a second watch while it is built: still one snapshot
    hub.unwatch(sup, "c1")
    hub.deliver(job, job.build())
    _apply(hub, "segment", _segment(9999, "after unwatch"))
    assert drain(sup) == []
    other = hub.add(SUP)
    job2 = hub.watch(other, "c1")
    assert isinstance(job2, SnapshotJob)
    hub.remove(other)
    hub.deliver(job2, job2.build())
    assert drain(other) == []


async def test_held_updates_are_bounded_like_the_queue():
    hub = Hub(LiveState(), queue_max=5)
    _long_call(hub, INLINE_REDACTION_SEGMENTS + 1)
    sup = hub.add(SUP)
    job = hub.watch(sup, "c1")
    for n in range(6):
        _apply(hub, "segment", _segment(5000 + n, "more"))
    assert sup.dropped and sup not in hub.subscribers  # the page reconnects for a fresh snapshot
    hub.deliver(job, job.build())
    assert drain(sup) == []


async def test_the_session_hands_the_job_to_the_io_layer():
    hub = Hub(LiveState())
    _long_call(hub, INLINE_REDACTION_SEGMENTS + 1)
    session = Session.__new__(Session)  # the effect only: auth is tested in test_ui_session
    session.hub = hub
    sup = hub.add(SUP)
    effect = session._dispatch(sup, "watch", {"op": "watch", "call_id": "c1"})
    assert isinstance(effect, BuildSnapshot) and effect.job.call_id == "c1"
