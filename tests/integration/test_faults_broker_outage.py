"""Fault: the broker goes away mid-call and comes back (a restart with durable storage).

A broker of its own, reached only through :class:`broker_proxy.BrokerProxy`: ``cut()`` resets
every client connection and refuses new ones, ``restore()`` brings the broker back on the same
address with its data intact.  The outage lasts 10 s, longer than the consumer session timeout
(6 s on the embedded broker); Tansu does not expire the silent member (measured: no rebalance),
so the rejoin-and-recover path is the one covered by test_faults_streams_restart.py.

- the ingest gateway keeps the live call open, holds the audio, and delivers every frame once the
  broker is back (duplicates tolerated: consumers drop them by (call_id, channel, seq));
- the streams worker and the UI server stay alive (liveness does not depend on Kafka), reconnect,
  and the call goes on: the worker keeps its table (the call's first half) and turns the second
  half into alerts and a complete QA summary, and the agent's open panel shows all of it without
  ever losing its socket.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from broker_proxy import BrokerProxy
from fault_support import Bus, HalvedCall
from ingest_support import TOKEN, auth, call_ended, next_json, open_message, read_back
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import connect

from assist_ui.settings import DEMO_USERS_FILE, UiSettings
from pipeline.ingest.service import IngestService
from pipeline.ingest.settings import IngestSettings
from streams.platform.broker import EmbeddedBroker, free_port
from streams.platform.kafka_clients import ensure_topics
from streams.platform.stream_settings import StreamsSettings

pytestmark = pytest.mark.integration

OUTAGE_S = 10.0
FRAME = b"\x00\x01" * 800  # 100 ms of 8 kHz pcm16


@pytest.fixture(scope="module")
def proxied_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProxy]:
    port = free_port()
    with EmbeddedBroker(advertised=f"127.0.0.1:{port}",
                        log_file=tmp_path_factory.mktemp("outage") / "tansu.log") as broker:
        proxy = BrokerProxy(port, broker.host, broker.port).start()
        try:
            yield proxy
        finally:
            proxy.stop()


async def test_gateway_holds_a_live_call_through_a_broker_outage(
    proxied_broker: BrokerProxy, make_settings: Callable[..., Any]
) -> None:
    settings: IngestSettings = make_settings(IngestSettings, broker_url=proxied_broker.address, partitions=1,
                                             ingest_port=0, ingest_tokens=TOKEN)
    call = f"outage-{uuid.uuid4().hex[:6]}"
    sent = 0
    async with IngestService(settings, CollectorRegistry()) as svc:
        async with connect(svc.url, additional_headers=auth(), max_size=None) as ws:
            await ws.send(open_message(call, format={"encoding": "pcm16le", "sample_rate": 8000,
                                                     "channels": ["agent"]}))
            assert (await next_json(ws))["type"] == "opened"

            async def talk(seconds: float) -> None:  # a live call: one 100 ms message every 100 ms
                nonlocal sent
                for _ in range(int(seconds * 10)):
                    await ws.send(b"\x00" + FRAME)
                    sent += 1
                    await asyncio.sleep(0.1)

            await talk(2.0)
            await asyncio.to_thread(proxied_broker.cut)
            await talk(OUTAGE_S)  # the caller does not know the broker is gone
            await asyncio.to_thread(proxied_broker.restore)
            await talk(2.0)
            await ws.send('{"type": "close"}')
            assert (await next_json(ws, wait_s=40))["type"] == "closed"
        registry = svc.metrics.registry
        dropped = registry.get_sample_value("callassist_frames_dropped_total", {"reason": "broker"}) or 0.0
        dropped += registry.get_sample_value("callassist_frames_dropped_total", {"reason": "backpressure"}) or 0.0
    assert dropped == 0
    got = (await read_back(settings, call_ended(call), wait_s=60)).of(call)
    frames = {f.seq: f for f in got.channel("agent")}  # duplicates of a retried batch are tolerated
    assert sorted(frames) == list(range(len(frames))), "a gap in the audio"
    assert sum(len(f.payload) for f in frames.values()) == sent * len(FRAME), "audio lost"
    assert got.ended(call) is not None


async def test_streams_worker_and_ui_ride_out_a_broker_outage(
    proxied_broker: BrokerProxy, make_settings: Callable[..., Any], tmp_path: Path
) -> None:
    s: StreamsSettings = make_settings(StreamsSettings, broker_url=proxied_broker.address, log_level="WARNING",
                                       streams_app_id=f"outage-streams-{uuid.uuid4().hex[:6]}",
                                       metrics_port=free_port())
    u: UiSettings = make_settings(UiSettings, broker_url=proxied_broker.address, log_level="WARNING",
                                  ui_port=free_port(), metrics_port=free_port(), ui_users_file=DEMO_USERS_FILE)
    await ensure_topics(s)
    async with HalvedCall(s, u, tmp_path, "en_misselling") as call, Bus(s) as bus:
        worker, ui, panel = call.worker, call.ui, call.panel
        await call.first_half(bus)
        want_first = {f"{call.call_id}:{d['segment_id']}" for d in call.first if d["gold_alerts"]}
        await bus.wait_for(lambda: want_first <= {a["segment_id"] for a in panel.alerts.values()}
                           and len(panel.finals()) == len(call.first), 60, *call.procs)

        await asyncio.to_thread(proxied_broker.cut)
        down_until = time.monotonic() + OUTAGE_S
        while time.monotonic() < down_until:
            for proc in call.procs:
                assert proc.proc.poll() is None, f"{proc.component} died in the outage:\n{proc.tail()}"
                assert proc.get("/healthz")[0] == 200  # liveness must not restart every pod at once
            await asyncio.sleep(1.0)
        await asyncio.to_thread(proxied_broker.restore)

        await call.second_half(bus)
        await bus.wait_for(lambda: call.has_summary(bus), 90, *call.procs)
        want_alerts = {sid for sid, d in zip(call.sids, call.script, strict=True) if d["gold_alerts"]}
        await bus.wait_for(lambda: panel.finals() == sorted(call.sids)
                           and want_alerts <= {a["segment_id"] for a in panel.alerts.values()}, 60, *call.procs)
        assert worker.get("/readyz")[0] == 200 and ui.get("/readyz")[0] == 200
        assert panel.connections == 1  # the agent's socket never depended on the broker

    summary = call.summary(bus)
    # the table survived: the first half (processed before the outage) is in the call, each segment once
    assert [x.segment_id for x in summary.transcript] == call.sids
    assert summary.agent_id == "agent-1"
    shown = {a.alert_id: a for a in bus.records("alerts")}
    for sid, d in zip(call.sids, call.script, strict=True):
        assert set(d["gold_alerts"]) <= {a.rule_id for a in shown.values() if a.segment_id == sid}, sid
