"""File replay of the real two-channel call, over the websocket and straight into Kafka, and the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from ingest_support import TOKEN, call_ended, read_back
from prometheus_client import CollectorRegistry

from pipeline.ingest.replay import ReplayError, replay_call
from pipeline.ingest.service import IngestService
from pipeline.ingest.settings import IngestSettings
from streams.platform.broker import free_port

pytestmark = [pytest.mark.integration, pytest.mark.both_brokers]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(make_settings: Callable[..., Any]) -> IngestSettings:
    return make_settings(IngestSettings, ingest_port=0, ingest_tokens=TOKEN)  # type: ignore[no-any-return]


@pytest.fixture
async def service(settings: IngestSettings) -> AsyncIterator[IngestService]:
    async with IngestService(settings, CollectorRegistry()) as svc:
        yield svc


@pytest.fixture
def real_call(shared_data: Path) -> list[Path]:
    d = shared_data / "calls"
    return [d / "auto_repairs_40_agent.wav", d / "auto_repairs_40_caller.wav"]


def pcm(path: Path) -> bytes:
    return sf.read(path, dtype="int16")[0].astype("<i2").tobytes()


async def test_replay_real_call_over_the_websocket(
    service: IngestService, settings: IngestSettings, real_call: list[Path]
) -> None:
    res = await replay_call(
        settings, real_call, speed=0, call_id="real-1", agent_id="a1", language="en", url=service.url
    )
    assert (res.via, res.encoding, res.sample_rate, res.errors) == ("ws", "pcm16le", 8000, [])
    assert res.audio_s == pytest.approx(245.38, abs=0.001)
    got = (await read_back(settings, call_ended("real-1"), wait_s=60)).of("real-1")
    started, ended = got.events
    assert (started.source, started.agent_id, started.language, ended.reason) == (
        "replay",
        "a1",
        "en",
        "hangup",
    )
    for ch, path in zip(("agent", "customer"), real_call, strict=True):
        frames = got.channel(ch)
        assert [f.seq for f in frames] == list(range(1227))  # ceil(245.38 s / 0.2 s)
        assert b"".join(f.payload for f in frames) == pcm(path)


async def test_replay_straight_into_kafka_keeps_mulaw(settings: IngestSettings, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    stereo = tmp_path / "call.wav"
    sf.write(stereo, rng.uniform(-0.5, 0.5, size=(8000 * 3, 2)).astype(np.float32), 8000, subtype="ULAW")
    res = await replay_call(settings, [stereo], speed=0, call_id="mulaw-1", queue="q1")
    assert (res.via, res.encoding, res.audio_s) == ("kafka", "mulaw", 3.0)
    got = (await read_back(settings, call_ended("mulaw-1"))).of("mulaw-1")
    assert got.events[0].encoding == "mulaw" and got.events[0].queue == "q1"
    raw = stereo.read_bytes()[-8000 * 3 * 2 :]  # the data chunk ends the file: interleaved µ-law bytes
    assert b"".join(f.payload for f in got.channel("agent")) == raw[0::2]
    assert b"".join(f.payload for f in got.channel("customer")) == raw[1::2]
    assert all(f.encoding == "mulaw" and len(f.payload) == 1600 for f in got.frames)


async def test_replay_is_paced_in_real_time(settings: IngestSettings, tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    sf.write(path, np.zeros((16000, 2), np.float32), 16000)  # 1 s
    res = await replay_call(settings, [path], speed=2.0, call_id="paced-1")
    assert res.wall_s >= 0.5  # 1 s of audio at 2x cannot finish sooner
    assert res.max_late_s < 0.5


async def test_replay_refused_call_raises(
    service: IngestService, settings: IngestSettings, tmp_path: Path
) -> None:
    path = tmp_path / "s.wav"
    sf.write(path, np.zeros((800, 2), np.float32), 8000)
    await replay_call(settings, [path], speed=0, call_id="once", url=service.url)
    with pytest.raises(ReplayError, match="duplicate_call"):
        await replay_call(settings, [path], speed=0, call_id="once", url=service.url)


def _env(settings: IngestSettings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CALLASSIST_BROKER_URL": settings.broker_url,
            "CALLASSIST_BROKER_EMBEDDED": "true",
            "CALLASSIST_TOPIC_AUDIO": settings.topic_audio,
            "CALLASSIST_TOPIC_EVENTS": settings.topic_events,
            "CALLASSIST_PARTITIONS": "2",
            "CALLASSIST_INGEST_TOKENS": TOKEN,
            **extra,
        }
    )
    return env


def test_cli_gateway_and_cli_replay(settings: IngestSettings, real_call: list[Path]) -> None:
    port = free_port()
    env = _env(settings, CALLASSIST_INGEST_PORT=str(port))
    gateway = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "ingest"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert gateway.stdout is not None
        line = gateway.stdout.readline()  # the gateway prints this line once it listens
        assert f"listening on ws://127.0.0.1:{port}/calls" in line
        cmd = [sys.executable, "-m", "pipeline.cli", "ingest", "replay", *map(str, real_call)]
        cmd += [
            "--speed",
            "0",
            "--call-id",
            "cli-1",
            "--language",
            "en",
            "--url",
            f"ws://127.0.0.1:{port}/calls",
        ]
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        out = json.loads(done.stdout)
        assert out["call_id"] == "cli-1" and out["audio_s"] == pytest.approx(245.38, abs=0.001)
        bad = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "ingest", "replay", str(real_call[0])],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert bad.returncode == 1 and "must be stereo" in bad.stderr
    finally:
        gateway.send_signal(signal.SIGTERM)
        _out, err = gateway.communicate(timeout=30)
    assert gateway.returncode == 0, err
    assert "call cli-1 ended (hangup)" in err
    got = asyncio.run(read_back(settings, call_ended("cli-1"), wait_s=60)).of("cli-1")
    assert len(got.channel("agent")) == 1227
