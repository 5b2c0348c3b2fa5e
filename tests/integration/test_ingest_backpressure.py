"""Backpressure against a real broker that stalls (the Tansu process is paused with SIGSTOP).

- with a patient buffer, the stalled broker stops the client (bounded memory) and nothing
  is lost once the broker resumes;
- with an impatient buffer, frames are dropped, and each drop is counted and logged.
A broker of its own keeps the pause away from the other tests' broker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from ingest_support import TOKEN, auth, call_ended, next_json, open_message, read_back
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import connect

from pipeline.ingest.service import IngestService
from pipeline.ingest.settings import IngestSettings
from streams.platform.broker import EmbeddedBroker

pytestmark = pytest.mark.integration

SECOND = b"\x00\x01" * 48000  # 1 s of 48 kHz pcm16 (96 000 bytes) per message


@pytest.fixture(scope="module")
def own_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker


def make(broker: EmbeddedBroker, **over: Any) -> IngestSettings:
    suffix = uuid.uuid4().hex[:8]
    base = IngestSettings()  # type: ignore[call-arg]
    topics = {
        k: f"{getattr(base, k)}.{suffix}" for k in IngestSettings.model_fields if k.startswith("topic_")
    }
    values: dict[str, Any] = {
        "broker_url": broker.url,
        "broker_embedded": True,
        "partitions": 1,
        "ingest_port": 0,
        "ingest_tokens": TOKEN,
        "ingest_buffer_bytes": 256 * 1024,
        "ingest_max_message_bytes": 128 * 1024,
        **topics,
        **over,
    }
    return IngestSettings(**values)


@contextmanager
def paused(broker: EmbeddedBroker) -> Iterator[None]:
    assert broker.pid is not None
    os.kill(broker.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(broker.pid, signal.SIGCONT)


def value(svc: IngestService, name: str, **labels: str) -> float:
    return svc.metrics.registry.get_sample_value(name, labels or None) or 0.0


async def open_call(svc: IngestService, call_id: str) -> Any:
    ws = await connect(svc.url, additional_headers=auth(), max_size=None)
    await ws.send(
        open_message(call_id, format={"encoding": "pcm16le", "sample_rate": 48000, "channels": ["agent"]})
    )
    assert (await next_json(ws))["type"] == "opened"
    await ws.send(b"\x00" + SECOND)  # 5 frames; wait until the producer is connected and delivering
    for _ in range(100):
        if value(svc, "callassist_ingest_frames_out_total") >= 5:
            break
        await asyncio.sleep(0.05)
    return ws


async def test_stalled_broker_slows_the_client_and_loses_nothing(own_broker: EmbeddedBroker) -> None:
    settings = make(own_broker, ingest_enqueue_timeout_s=60.0)
    total = 300  # 300 s of audio, 28.8 MB: far more than the buffers between client and broker
    async with IngestService(settings, CollectorRegistry()) as svc:
        ws = await open_call(svc, "bp-block")
        sent = 0

        async def flood() -> None:
            nonlocal sent
            for _ in range(total):
                await ws.send(b"\x00" + SECOND)
                sent += 1

        with paused(own_broker):
            sender = asyncio.create_task(flood())
            await asyncio.sleep(3.0)
            assert not sender.done(), "the client was never slowed down"
            assert sent < total / 2
            assert svc.sink is not None and svc.sink.queue.bytes <= 256 * 1024 + 20_000
            assert svc.sink.queue.waiting_putters <= 1  # the connection waits; nothing piles up
            assert value(svc, "callassist_frames_dropped_total", reason="backpressure") == 0
        await asyncio.wait_for(sender, 60)
        await ws.send('{"type": "close"}')
        assert (await next_json(ws, wait_s=30))["type"] == "closed"
        await ws.close()
    got = (await read_back(settings, call_ended("bp-block"), wait_s=60)).of("bp-block")
    frames = got.channel("agent")
    assert [f.seq for f in frames] == list(range((total + 1) * 5))
    assert sum(len(f.payload) for f in frames) == (total + 1) * len(SECOND)


async def test_impatient_buffer_drops_loudly(
    own_broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make(own_broker, ingest_enqueue_timeout_s=0.05)
    async with IngestService(settings, CollectorRegistry()) as svc:
        ws = await open_call(svc, "bp-drop")
        with caplog.at_level(logging.WARNING, logger="pipeline.ingest.sink"), paused(own_broker):
            for _ in range(20):  # 1.9 MB: more than the sink buffer + one in-flight and one open batch
                await ws.send(b"\x00" + SECOND)
            # the gateway keeps reading (dropping) instead of stalling the live call
            await ws.send('{"type": "ping", "id": 1}')
            pong = await next_json(ws, wait_s=30)
            assert pong["received"]["agent"] == pytest.approx(21.0)
        dropped = value(svc, "callassist_frames_dropped_total", reason="backpressure")
        assert dropped > 0
        assert "dropped audio frame bp-drop:agent:" in caplog.text
        await ws.send('{"type": "close"}')
        assert (await next_json(ws, wait_s=30))["type"] == "closed"
        await ws.close()
    # audio is missing by design here, so wait for the ended event (and a quiet poll) only
    got = (await read_back(settings, lambda p: p.ended("bp-drop") is not None, wait_s=30)).of("bp-drop")
    seqs = [f.seq for f in got.channel("agent")]
    assert got.ended("bp-drop") is not None  # events are never dropped
    assert len(seqs) + dropped == 105  # every frame is either delivered or counted as dropped
    assert seqs == sorted(seqs) and max(seqs) <= 104
