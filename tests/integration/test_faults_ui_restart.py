"""Fault: the UI server is SIGKILLed and restarted; an agent's socket reconnects and resyncs.

A real `callassist ui` process on the real embedded broker and a websocket client that behaves
like the agent panel (docs/ui.md, assist_ui/server.py): it authenticates, keeps a view of its
calls from snapshots and updates, and on a lost connection reconnects and replaces its view
with the fresh snapshot.  Records produced while the server is down must be on the panel
after the restart (the live bridge re-reads the topics from its lookback), each once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fault_support import Bus, Panel, Proc, settings_env

from assist_ui.settings import DEMO_USERS_FILE, UiSettings
from streams.contract.records import Alert, CallEvent, TranscriptSegment
from streams.platform.broker import free_port
from streams.platform.kafka_clients import ensure_topics

pytestmark = pytest.mark.integration

def segment(call: str, n: int, final: bool = True, text: str = "") -> bytes:
    return TranscriptSegment(call_id=call, channel="customer", segment_id=f"{call}:customer:{n}", is_final=final,
                             start=n * 5.0, end=n * 5.0 + 3, text=text or f"utterance number {n}", language="en",
                             revision=1 if final else 0, produced_at=time.time()).to_bytes()


def alert(call: str, n: int) -> bytes:
    return Alert(call_id=call, alert_id=f"{call}:RULE_{n}", rule_id=f"RULE_{n}", rule_kind="forbidden",
                 severity="high", channel="agent", message=f"alert {n}", segment_id=f"{call}:customer:{n}",
                 produced_at=time.time(), source_produced_at=time.time()).to_bytes()


async def wait(pred: Callable[[], bool], within: float, ui: Proc, what: str) -> None:
    deadline = time.monotonic() + within
    while not pred():
        assert ui.proc.poll() is None, f"ui died:\n{ui.tail()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{ui.tail(2500)}"
        await asyncio.sleep(0.1)


async def test_ui_killed_and_restarted_clients_reconnect_and_resync(
    make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    s: UiSettings = make_settings(UiSettings, ui_port=free_port(), metrics_port=free_port(),
                                  ui_users_file=DEMO_USERS_FILE, log_level="WARNING")
    await ensure_topics(s)
    env = settings_env(s)
    call = f"call-{uuid.uuid4().hex[:6]}"
    panel = Panel(f"ws://{s.ui_host}:{s.ui_port}/ws")
    ui = Proc("ui", env, s.metrics_port, tmp_path / "ui-1.log")
    try:
        ui.wait_ready()
        async with Bus(s) as bus:
            await bus.send(s.topic_events, call, CallEvent(call_id=call, kind="started", ts=time.time(),
                                                           agent_id="agent-1", language="en").to_bytes())
            panel.start()
            for n in (1, 2):
                await bus.send(s.topic_transcripts, call, segment(call, n, final=False, text="utterance"))
                await bus.send(s.topic_transcripts, call, segment(call, n))
            await bus.send(s.topic_alerts, call, alert(call, 1))
            await wait(lambda: len(panel.finals()) == 2 and len(panel.alerts) == 1, 60, ui, "the first records")
            before = panel.connections

            ui.kill()
            # while the server is down: the call goes on
            await bus.send(s.topic_transcripts, call, segment(call, 3))
            await bus.send(s.topic_alerts, call, alert(call, 3))
            await bus.send(s.topic_alerts, call, alert(call, 1))  # an at-least-once duplicate
            await asyncio.sleep(1.0)
            assert not panel.connected.is_set()  # the client noticed

            ui = Proc("ui", env, s.metrics_port, tmp_path / "ui-2.log")
            ui.wait_ready()
            want = sorted(f"{call}:customer:{n}" for n in (1, 2, 3))
            await wait(lambda: panel.finals() == want and len(panel.alerts) == 2, 60, ui, "the resync")
            assert panel.connections > before and panel.snapshots >= 2  # reconnected and got a snapshot
            # live again after the resync
            await bus.send(s.topic_transcripts, call, segment(call, 4))
            await wait(lambda: f"{call}:customer:4" in panel.finals(), 30, ui, "a live update after the restart")
        assert sorted(panel.alerts) == [f"{call}:RULE_1", f"{call}:RULE_3"]
        assert all(seg.get("is_final") for seg in panel.segments.values())  # partials replaced, none stale
        assert ui.metric("callassist_websocket_clients", role="agent") == 1
    finally:
        await panel.stop()
        ui.stop()
