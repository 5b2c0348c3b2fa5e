"""Call context and call states through the real gateway to calls.events on the embedded broker."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from ingest_support import TOKEN, auth, call_ended, next_json, open_message, read_back
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pipeline.ingest.service import IngestService
from pipeline.ingest.settings import IngestSettings

pytestmark = pytest.mark.integration

CONTEXT = {"customer_name": "李雷", "customer_tier": "白金", "policy_ref": "PA-99812", "ivr_intent": "claim"}


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> IngestSettings:
    return make_settings(IngestSettings, ingest_port=0, ingest_tokens=TOKEN)  # type: ignore[no-any-return]


@pytest.fixture
async def service(settings: IngestSettings) -> AsyncIterator[IngestService]:
    svc = IngestService(settings, CollectorRegistry())
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


def active_calls(svc: IngestService) -> float:
    return svc.metrics.registry.get_sample_value("callassist_active_calls", {"component": "ingest"}) or 0.0


async def test_native_context_hold_and_transfer_reach_calls_events(
    service: IngestService, settings: IngestSettings
) -> None:
    async with connect(service.url, additional_headers=auth()) as ws:
        await ws.send(open_message("call-held", context=CONTEXT))
        assert (await next_json(ws))["type"] == "opened"
        chunk = b"\x00\x01" * 1600  # 200 ms
        await ws.send(b"\x01" + chunk)
        await ws.send(json.dumps({"type": "state", "kind": "hold", "reason": "checking policy"}))
        await ws.send(json.dumps({"type": "state", "kind": "park"}))  # rejected, the call goes on
        err = await next_json(ws)
        assert (err["code"], err["fatal"]) == ("bad_state", False)
        await ws.send(b"\x01" + chunk)
        await ws.send(json.dumps({"type": "state", "kind": "resume"}))
        await ws.send(json.dumps({"type": "state", "kind": "transfer", "agent_id": "agent-9"}))
        await ws.send(b"\x01" + chunk)
        await ws.send('{"type": "ping", "id": 1}')
        assert (await next_json(ws))["type"] == "pong"
        assert active_calls(service) == 1  # state events do not touch the live-call count
        await ws.send('{"type": "close"}')
        assert (await next_json(ws))["type"] == "closed"
    got = (await read_back(settings, call_ended("call-held"))).of("call-held")
    assert [(e.kind, e.agent_id) for e in got.events] == [
        ("started", "agent-7"),
        ("hold", "agent-7"),
        ("resume", "agent-7"),
        ("transfer", "agent-9"),
        ("ended", "agent-9"),
    ]
    assert got.events[0].context == CONTEXT and got.events[1].reason == "checking policy"
    assert b"".join(f.payload for f in got.channel("customer")) == chunk * 3
    assert active_calls(service) == 0


async def test_twilio_context_and_state_reach_calls_events(
    service: IngestService, settings: IngestSettings
) -> None:
    start = {
        "event": "start",
        "streamSid": "MZ7",
        "start": {
            "callSid": "CAheld7",
            "streamSid": "MZ7",
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": {"token": TOKEN, "agent_id": "a-3", **CONTEXT},
        },
    }
    media = {"track": "inbound", "timestamp": "0", "payload": base64.b64encode(b"\x7f" * 1600).decode()}
    async with connect(service.url) as ws:
        await ws.send(json.dumps(start))
        await ws.send(json.dumps({"event": "media", "streamSid": "MZ7", "media": media}))
        await ws.send(json.dumps({"event": "state", "streamSid": "MZ7", "state": {"kind": "mute"}}))
        await ws.send(json.dumps({"event": "stop", "streamSid": "MZ7"}))
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
    got = (await read_back(settings, call_ended("CAheld7"))).of("CAheld7")
    assert [e.kind for e in got.events] == ["started", "mute", "ended"]
    assert got.events[0].context == CONTEXT and got.events[1].source == "twilio"
