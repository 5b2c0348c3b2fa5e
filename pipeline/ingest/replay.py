"""Replay a recorded call as a live one: through the gateway's websocket, or straight into Kafka.

Both paths speak the same protocol: the websocket path is an ordinary client of
docs/ingest.md; the Kafka path feeds the same :class:`IngestSession` in-process (same
validation, framing and events) and produces through the same bounded :class:`KafkaSink`.
Audio is paced in real time (``speed`` x faster; ``speed=0`` = as fast as possible) against
an absolute schedule, so pacing error does not accumulate over a long call.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.ingest.admission import CallRegistry
from pipeline.ingest.files import CallAudio
from pipeline.ingest.messages import CHANNEL_IDS
from pipeline.ingest.metrics import IngestMetrics
from pipeline.ingest.outputs import Reply
from pipeline.ingest.protocol import IngestSession, Limits
from pipeline.ingest.settings import IngestSettings
from pipeline.ingest.sink import KafkaSink
from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent

log = logging.getLogger(__name__)
_CHANNEL_BYTE = {name: bytes([i]) for i, name in CHANNEL_IDS.items()}


class ReplayError(RuntimeError):
    """The gateway (or the in-process protocol core) refused the replayed call."""


@dataclass
class ReplayResult:
    call_id: str
    via: str  # "ws" | "kafka"
    encoding: str
    sample_rate: int
    audio_s: float  # audio duration sent (longest channel)
    messages: int  # audio messages sent
    bytes: int  # audio payload bytes sent
    wall_s: float
    max_late_s: float  # worst pacing lag behind the real-time schedule
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


async def paced(
    audio: CallAudio, chunk_ms: int, speed: float, late: list[float]
) -> AsyncGenerator[dict[str, bytes], None]:
    """Yield audio chunks on a real-time schedule; appends the worst lateness to ``late``.

    Reading, decoding and resampling a block is file and CPU work, so it runs in one reader
    thread per replayed call, never on the event loop (which paces every other call too).
    One thread, so the blocks are read in order and the file is closed after the last read.
    """
    loop = asyncio.get_running_loop()
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-read")
    chunks = audio.chunks(chunk_ms)
    t0 = loop.time()
    worst = 0.0
    try:
        for i in itertools.count():
            chunk = await loop.run_in_executor(reader, next, chunks, None)
            if chunk is None:
                break
            if speed > 0:
                # chunk i may leave once its audio has "happened": at the end of its span
                due = t0 + (i + 1) * chunk_ms / 1000.0 / speed
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    worst = max(worst, -delay)
            yield chunk
        late.append(worst)
    finally:
        # queued behind a read still in flight (cancelled mid-read): closes the files in order
        reader.submit(chunks.close)
        reader.shutdown(wait=False)


def _default_call_id(files: Sequence[str | os.PathLike[str]]) -> str:
    stem = "".join(c if c.isalnum() or c in "._-" else "-" for c in Path(files[0]).stem)[:60] or "call"
    return f"replay-{stem}-{uuid.uuid4().hex[:8]}"


def _open_message(audio: CallAudio, call_id: str, meta: dict[str, str], token: str | None) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "open",
        "call_id": call_id,
        **meta,
        "source": "replay",
        "format": {
            "encoding": audio.encoding,
            "sample_rate": audio.sample_rate,
            "channels": list(audio.channels),
        },
    }
    if token:
        msg["token"] = token
    return msg


async def replay_call(
    settings: IngestSettings,
    files: Sequence[str | os.PathLike[str]],
    speed: float = 1.0,
    call_id: str | None = None,
    agent_id: str = "",
    customer_id: str = "",
    queue: str = "",
    language: str = "",
    url: str | None = None,
    token: str | None = None,
    chunk_ms: int | None = None,
    sink: KafkaSink | None = None,
    calls: CallRegistry | None = None,
) -> ReplayResult:
    """Replay one call (stereo file, or agent + customer mono files) as a live call.

    ``url`` given: connect to that gateway (``token`` defaults to the first configured
    ingest token).  Otherwise produce straight to Kafka: through ``sink`` when given (share one
    producer across many replays), else through a producer made from ``settings``.
    Raises :class:`~pipeline.ingest.files.AudioFileError` for unreadable files and
    :class:`ReplayError` when the call is refused.
    """
    audio = await asyncio.to_thread(CallAudio, list(files))  # probes the files: off the event loop
    cid = call_id or _default_call_id(files)
    meta = {"agent_id": agent_id, "customer_id": customer_id, "queue": queue, "language": language}
    chunk = chunk_ms or settings.ingest_replay_chunk_ms
    if url:
        tokens = settings.tokens()
        tok = token if token is not None else (tokens[0] if tokens else None)
        return await _replay_ws(audio, url, _open_message(audio, cid, meta, tok), speed, chunk, settings)
    return await _replay_kafka(
        audio, _open_message(audio, cid, meta, None), speed, chunk, settings, sink, calls
    )


async def _replay_ws(
    audio: CallAudio,
    url: str,
    open_msg: dict[str, Any],
    speed: float,
    chunk_ms: int,
    settings: IngestSettings,
) -> ReplayResult:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    res = ReplayResult(open_msg["call_id"], "ws", audio.encoding, audio.sample_rate, 0.0, 0, 0, 0.0, 0.0)
    headers = {"Authorization": f"Bearer {open_msg.pop('token')}"} if open_msg.get("token") else None
    start = time.monotonic()
    async with connect(
        url, additional_headers=headers, compression=None, max_size=settings.ingest_max_message_bytes
    ) as ws:
        await ws.send(json.dumps(open_msg))
        reply = json.loads(await ws.recv())
        if reply.get("type") != "opened":
            raise ReplayError(
                f"gateway refused call {res.call_id}: {reply.get('code')}: {reply.get('message')}"
            )
        done = asyncio.get_running_loop().create_future()

        async def read_replies() -> None:
            # errors can arrive at any time; "closed" ends the call
            try:
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("type") == "error":
                        res.errors.append(msg)
                        log.warning(
                            "replay %s: gateway error %s: %s",
                            res.call_id,
                            msg.get("code"),
                            msg.get("message"),
                        )
                    elif msg.get("type") == "closed" and not done.done():
                        done.set_result(msg)
            except ConnectionClosed:
                pass
            if not done.done():
                done.set_result(None)

        reader = asyncio.create_task(read_replies())
        late: list[float] = []
        try:
            async with contextlib.aclosing(paced(audio, chunk_ms, speed, late)) as chunks:
                async for chunk in chunks:
                    if done.done():  # the gateway closed the call (fatal error)
                        break
                    for ch, payload in chunk.items():
                        await ws.send(_CHANNEL_BYTE[ch] + payload)
                        res.messages += 1
                        res.bytes += len(payload)
            if not done.done():
                await ws.send(json.dumps({"type": "close", "reason": "hangup"}))
            closed = await asyncio.wait_for(done, timeout=30)
        finally:
            reader.cancel()
    res.audio_s = float(closed["duration"]) if closed else 0.0
    res.wall_s = time.monotonic() - start
    res.max_late_s = late[0] if late else 0.0
    if closed is None:
        raise ReplayError(f"gateway closed call {res.call_id} early: {res.errors[-1:] or 'connection lost'}")
    return res


async def _replay_kafka(
    audio: CallAudio,
    open_msg: dict[str, Any],
    speed: float,
    chunk_ms: int,
    settings: IngestSettings,
    sink: KafkaSink | None,
    calls: CallRegistry | None,
) -> ReplayResult:
    from pipeline.ingest.service import start_sink, stop_sink

    own = sink is None
    producer = None
    if sink is None:
        producer, sink = await start_sink(settings, IngestMetrics())
    res = ReplayResult(open_msg["call_id"], "kafka", audio.encoding, audio.sample_rate, 0.0, 0, 0, 0.0, 0.0)
    session = IngestSession(
        registry=calls or CallRegistry(),
        authenticated=True,
        source="replay",
        limits=Limits(frame_ms=settings.ingest_frame_ms, max_frame_ms=settings.ingest_max_frame_ms),
    )
    start = time.monotonic()
    late: list[float] = []

    async def apply(outs: list[Any]) -> None:
        for out in outs:
            if isinstance(out, AudioFrame):
                await sink.send_audio(out)
            elif isinstance(out, CallEvent):
                await sink.send_event(out)
                if out.kind == "ended":
                    res.audio_s = out.duration
            elif isinstance(out, Reply) and out.error:
                res.errors.append(out.message)
                if out.message.get("fatal"):
                    raise ReplayError(
                        f"call {res.call_id} refused: {out.error}: {out.message.get('message')}"
                    )

    try:
        await apply(session.receive_text(json.dumps(open_msg)))
        async with contextlib.aclosing(paced(audio, chunk_ms, speed, late)) as chunks:
            async for chunk in chunks:
                for ch, payload in chunk.items():
                    await apply(session.receive_bytes(_CHANNEL_BYTE[ch] + payload))
                    res.messages += 1
                    res.bytes += len(payload)
        await apply(session.receive_text('{"type": "close", "reason": "hangup"}'))
    finally:
        # cancelled or failed mid-call: the call still ends (flushed audio + ended event)
        await apply(session.connection_lost("replay_aborted"))
        if own and producer is not None:
            await stop_sink(producer, sink, settings.ingest_drain_timeout_s)
    res.wall_s = time.monotonic() - start
    res.max_late_s = late[0] if late else 0.0
    return res
