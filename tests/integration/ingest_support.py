"""Helpers shared by the ingest integration tests: read back what the gateway produced."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection

from streams.contract.audio import AudioFrame
from streams.contract.codec import decode
from streams.contract.records import CallEvent
from streams.platform.kafka_clients import make_consumer, start_client
from streams.platform.settings import CommonSettings

TOKEN = "test-token-0123456789"


@dataclass
class Produced:
    frames: list[AudioFrame] = field(default_factory=list)
    events: list[CallEvent] = field(default_factory=list)
    keys: set[bytes] = field(default_factory=set)

    def of(self, call_id: str) -> Produced:
        return Produced(
            [f for f in self.frames if f.call_id == call_id],
            [e for e in self.events if e.call_id == call_id],
            self.keys,
        )

    def channel(self, name: str) -> list[AudioFrame]:
        return sorted((f for f in self.frames if f.channel == name), key=lambda f: f.seq)

    def ended(self, call_id: str) -> CallEvent | None:
        return next((e for e in self.events if e.call_id == call_id and e.kind == "ended"), None)


async def read_back(
    settings: CommonSettings, until: Callable[[Produced], bool], wait_s: float = 20.0
) -> Produced:
    """Consume calls.audio and calls.events from the beginning until ``until`` holds (or wait_s passes)."""
    consumer = make_consumer(settings, None, settings.topic_audio, settings.topic_events)
    await start_client(consumer, settings)
    got = Produced()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    try:
        quiet = False
        # go on until the condition holds and one more poll finds nothing (late duplicates)
        while not (quiet and until(got)) and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            quiet = not batches
            for tp, records in batches.items():
                for rec in records:
                    got.keys.add(rec.key)
                    if tp.topic == settings.topic_audio:
                        frame = AudioFrame.from_bytes(rec.value)
                        assert rec.key == frame.call_id.encode()
                        got.frames.append(frame)
                    else:
                        event = decode(CallEvent, rec.value)
                        assert rec.key == event.call_id.encode()
                        got.events.append(event)
    finally:
        await consumer.stop()
    return got


def call_ended(call_id: str) -> Callable[[Produced], bool]:
    """The call's ended event and all the audio it accounts for have been read.

    Audio and events are different topics, fetched independently: seeing ``ended`` first
    does not mean every frame has been fetched yet.
    """

    def done(p: Produced) -> bool:
        ended = p.ended(call_id)
        if ended is None:
            return False
        mine = p.of(call_id)
        seen = max((sum(f.duration for f in mine.channel(ch)) for ch in ("agent", "customer")), default=0.0)
        return seen >= ended.duration - 0.002

    return done


def open_message(call_id: str, **over: Any) -> str:
    msg: dict[str, Any] = {
        "type": "open",
        "call_id": call_id,
        "agent_id": "agent-7",
        "customer_id": "cust-1",
        "queue": "service",
        "language": "en",
        "format": {"encoding": "pcm16le", "sample_rate": 8000},
    }
    msg.update(over)
    return json.dumps({k: v for k, v in msg.items() if v is not None})


async def next_json(ws: ClientConnection, wait_s: float = 5.0) -> dict[str, Any]:
    raw = await asyncio.wait_for(ws.recv(), wait_s)
    assert isinstance(raw, str), raw
    out: dict[str, Any] = json.loads(raw)
    return out


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}
