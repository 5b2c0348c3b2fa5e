"""The recording sink with the S3-compatible backend, against a real local S3 server.

moto's server is a real HTTP S3 endpoint on 127.0.0.1 (boto3 talks to it over the network
like to MinIO or AWS); the sink runs on the real embedded broker, writes both channels as
FLAC objects, the playback side reads them back, and retention deletes them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from assist_ui.playback import recording_store
from pipeline.recordings.settings import RecordingSettings
from pipeline.recordings.worker import RecordingSink
from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent
from streams.platform.audio_codec import pcm16_to_mulaw
from streams.platform.broker import free_port
from streams.platform.kafka_clients import ensure_topics, make_producer, start_client
from streams.platform.recording_store import S3RecordingStore

pytestmark = pytest.mark.integration
RATE = 8000


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Any:
    server_mod = pytest.importorskip("moto.server")
    import boto3

    for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    port = free_port()
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    boto3.client("s3", endpoint_url=url).create_bucket(Bucket="calls")
    try:
        yield url
    finally:
        server.stop()


async def test_sink_writes_to_s3_and_playback_reads_it(make_settings: Any, s3_endpoint: str) -> None:
    settings: RecordingSettings = make_settings(
        RecordingSettings, recordings_backend="s3", recordings_s3_bucket="calls", recordings_s3_prefix="rec/",
        recordings_s3_endpoint_url=s3_endpoint, recordings_end_grace_s=0.2, recordings_group_id="rec-s3",
        broker_connect_timeout_s=30)
    await ensure_topics(settings, [settings.topic_audio, settings.topic_events])
    rng = np.random.default_rng(5)
    pcm = {ch: (rng.standard_normal(4 * RATE) * 3000).astype(np.int16) for ch in ("agent", "customer")}
    frames = [AudioFrame("s3-call/1", ch, k, i / RATE, "mulaw", RATE, pcm16_to_mulaw(y[i : i + 1600]))
              for ch, y in pcm.items() for k, i in enumerate(range(0, y.size, 1600))]
    producer = make_producer(settings)
    await start_client(producer, settings)
    try:
        for f in frames:
            await producer.send(settings.topic_audio, key=f.call_id.encode(), value=f.to_bytes())
        ended = CallEvent(call_id="s3-call/1", kind="ended", ts=time.time())
        await producer.send_and_wait(settings.topic_events, key=b"s3-call/1", value=ended.to_bytes())
    finally:
        await producer.stop()

    sink = RecordingSink(settings, CollectorRegistry())
    await sink.start()
    store = S3RecordingStore("calls", "rec/", s3_endpoint)
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and await asyncio.to_thread(store.meta, "s3-call/1") is None:
            await sink.step(timeout_ms=100)
    finally:
        await sink.close()
    meta = await asyncio.to_thread(store.meta, "s3-call/1")
    assert meta is not None and set(meta["channels"]) == {"agent", "customer"}
    keys = sorted(o["Key"] for o in store.client.list_objects_v2(Bucket="calls")["Contents"])
    assert all(k.startswith("rec/s3-call_1~") for k in keys) and [k.rsplit("/", 1)[1] for k in keys] == [
        "agent.flac", "customer.flac", "meta.json"]

    # the UI's playback reads the same objects
    playback = recording_store(Path("/unused"), "s3", "calls", "rec/", s3_endpoint)
    flac = await playback.flac("s3-call/1", [])
    assert flac is not None and flac[:4] == b"fLaC"
    got = await asyncio.to_thread(store.read_channel, "s3-call/1", "customer")
    assert got is not None and got[0].size == 4 * RATE

    assert await asyncio.to_thread(store.expire, 1.0, time.time() + 2 * 86400) == [keys[0].split("/")[1]]
    assert await asyncio.to_thread(store.meta, "s3-call/1") is None
    assert store.client.list_objects_v2(Bucket="calls").get("Contents", []) == []
