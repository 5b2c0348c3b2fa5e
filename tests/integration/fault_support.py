"""Helpers of the fault tests: component processes, an output-topic collector, committed offsets.

Every component runs as its own real process (``python -m pipeline.cli <component>``), as in
production and in ``callassist demo``, so a test can SIGKILL it mid-call like a node failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic_settings import BaseSettings
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from streams.contract.codec import decode
from streams.contract.records import (
    Alert,
    CallEvent,
    CallSummary,
    EmotionState,
    Suggestion,
    TranscriptSegment,
)
from streams.platform.kafka_clients import make_consumer, make_producer, start_client
from streams.platform.settings import CommonSettings

REPO = Path(__file__).resolve().parents[2]
AGENT_TOKEN = "demo-agent-1-token"  # docs/ui.md demo users: agent-1
DIALOGUES = REPO / "tests" / "data" / "dialogues"
OUTPUTS = {"transcripts": TranscriptSegment, "alerts": Alert, "suggestions": Suggestion,
           "assist_emotion": EmotionState, "qa_calls": CallSummary}


def settings_env(*settings: BaseSettings, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a deployment would give the process: CALLASSIST_* from the settings objects."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLASSIST_")}
    for s in settings:
        for name, value in s.model_dump().items():
            if value is None:
                continue
            env[f"CALLASSIST_{name.upper()}"] = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    env["PYTHONPATH"] = str(REPO)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class Proc:
    """One component process with its /metrics, /healthz and /readyz port."""

    def __init__(self, component: str, env: dict[str, str], metrics_port: int, log: Path) -> None:
        self.component, self.log = component, log
        self.metrics_url = f"http://127.0.0.1:{metrics_port}"
        self._fh = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", component], env=env, cwd=REPO,
                                     stdout=self._fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.metrics_url + path, timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""
        except OSError:
            return 0, ""

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:]

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.get("/readyz")[0] != 200:
            assert self.proc.poll() is None, f"{self.component} died:\n{self.tail()}"
            assert time.monotonic() < deadline, f"{self.component} not ready:\n{self.tail()}"
            time.sleep(0.3)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of ``name`` matching ``labels`` on /metrics (0 when absent)."""
        from prometheus_client.parser import text_string_to_metric_families

        total = 0.0
        for fam in text_string_to_metric_families(self.get("/metrics")[1]):
            for s in fam.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    total += s.value
        return total

    def kill(self) -> None:
        """SIGKILL: no drain, no commit, no leaving the group (a crashed pod or node)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._fh.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._fh.closed:
            self._fh.close()


class Bus:
    """Produces input records and collects every output topic (no consumer group)."""

    def __init__(self, s: CommonSettings) -> None:
        self.s = s
        self.got: dict[str, list[tuple[float, Any]]] = {k: [] for k in OUTPUTS}
        self._kind = {getattr(s, f"topic_{k}"): k for k in OUTPUTS}
        self.malformed = 0

    async def __aenter__(self) -> Bus:
        self.producer = make_producer(self.s, linger_ms=0)
        self.consumer = make_consumer(self.s, None, *self._kind)
        await start_client(self.producer, self.s)
        await start_client(self.consumer, self.s)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def send(self, topic: str, call_id: str, value: bytes) -> tuple[int, int]:
        """Produce and wait for the broker's ack; returns (partition, offset)."""
        meta = await self.producer.send_and_wait(topic, value, key=call_id.encode())
        return int(meta.partition), int(meta.offset)

    def records(self, kind: str) -> list[Any]:
        return [r for _, r in self.got[kind]]

    async def poll(self, seconds: float = 0.3) -> None:
        batch = await self.consumer.getmany(timeout_ms=int(seconds * 1000))
        now = time.time()
        for tp, msgs in batch.items():
            kind = self._kind[tp.topic]
            for m in msgs:
                self.got[kind].append((now, decode(OUTPUTS[kind], m.value)))

    async def wait_for(self, pred: Callable[[], bool], within: float, *procs: Proc) -> None:
        deadline = time.monotonic() + within
        while not pred():
            for p in procs:
                assert p.proc.poll() is None, f"{p.component} died:\n{p.tail()}"
            assert time.monotonic() < deadline, (
                f"timed out; got { {k: len(v) for k, v in self.got.items()} }\n"
                + "\n".join(f"--- {p.component}\n{p.tail(2500)}" for p in procs)
            )
            await self.poll()


async def committed(s: CommonSettings, group_id: str, topic: str) -> dict[int, int]:
    """The group's committed offset per partition of ``topic`` (-1: none), read without joining the group."""
    c = AIOKafkaConsumer(bootstrap_servers=s.bootstrap_servers(), group_id=group_id, enable_auto_commit=False)
    await start_client(c, s)
    try:
        parts = c.partitions_for_topic(topic) or set()
        if not parts:
            await c._client.force_metadata_update()  # noqa: SLF001 - metadata for a topic we don't consume
            parts = c.partitions_for_topic(topic) or set()
        out = {}
        for p in sorted(parts):
            got = await c.committed(TopicPartition(topic, p))
            out[p] = -1 if got is None else int(got)
        return out
    finally:
        await c.stop()


async def wait_committed(s: CommonSettings, group_id: str, topic: str, partition: int, offset: int,
                         within: float = 20.0) -> None:
    """Until the group committed at least ``offset`` on ``topic[partition]``."""
    deadline = time.monotonic() + within
    while (await committed(s, group_id, topic)).get(partition, -1) < offset:
        assert time.monotonic() < deadline, f"{group_id} never committed {topic}[{partition}] >= {offset}"
        await asyncio.sleep(0.5)


class Panel:
    """The agent panel's socket logic: view = last snapshot + updates since; reconnect on loss."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.segments: dict[str, dict[str, Any]] = {}
        self.alerts: dict[str, dict[str, Any]] = {}
        self.snapshots = self.connections = 0
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with connect(self.url, open_timeout=2) as ws:
                    await ws.send(json.dumps({"op": "auth", "token": AGENT_TOKEN}))
                    self.connections += 1
                    async for raw in ws:
                        self._apply(json.loads(raw))
            except (OSError, ConnectionClosed, TimeoutError):
                pass
            self.connected.clear()
            await asyncio.sleep(0.5)  # the page's reconnect backoff

    def _apply(self, msg: dict[str, Any]) -> None:
        if msg.get("type") == "hello":
            self.connected.set()
        elif msg.get("type") == "snapshot":
            call = msg["call"]
            self.snapshots += 1
            self.segments = {s["segment_id"]: s for s in call.get("segments", [])}
            self.alerts = {a["alert_id"]: a for a in call.get("alerts", [])}
        elif msg.get("type") == "update" and msg.get("kind") == "segment":
            self.segments[msg["item"]["segment_id"]] = msg["item"]
        elif msg.get("type") == "update" and msg.get("kind") == "alert":
            self.alerts[msg["item"]["alert_id"]] = msg["item"]

    def finals(self) -> list[str]:
        return sorted(s["segment_id"] for s in self.segments.values() if s.get("is_final"))


def dialogue(name: str) -> list[dict[str, Any]]:
    """A scripted call (tests/data/dialogues): final segments with their gold alerts."""
    lines = (DIALOGUES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def seg_record(call: str, d: dict[str, Any]) -> bytes:
    """One final segment of a :func:`dialogue` line as the ASR worker would produce it, for ``call``."""
    return TranscriptSegment(
        call_id=call, channel=d["channel"], segment_id=f"{call}:{d['segment_id']}", is_final=True, start=d["start"],
        end=d["end"], text=d["text"], language=d["language"], produced_at=time.time(), audio_end_at=time.time(),
    ).to_bytes()


class HalvedCall:
    """A scripted call told in two halves around a fault, to ``callassist streams`` and ``callassist
    ui`` running as real processes, with the agent's panel connected (the broker fault tests).

    ``async with HalvedCall(s, u, tmp_path, "en_misselling") as call``: the processes are ready;
    ``await call.first_half(bus)`` opens the call, connects the panel and sends the first half;
    the test breaks something; ``await call.second_half(bus)`` sends the rest and ends the call.
    Leaving the block stops the panel and both processes."""

    def __init__(self, s: CommonSettings, u: Any, tmp_path: Path, script: str, *,
                 panel: Callable[[str], Panel] = Panel, split: int = 7) -> None:
        self.s = s
        self.script = dialogue(script)
        self.first, self.second = self.script[:split], self.script[split:]
        self.call_id = f"call-{os.urandom(3).hex()}"
        self.sids = [f"{self.call_id}:{d['segment_id']}" for d in self.script]
        self.worker = Proc("streams", settings_env(s), s.metrics_port, tmp_path / "streams.log")
        self.ui = Proc("ui", settings_env(u), u.metrics_port, tmp_path / "ui.log")
        self.panel = panel(f"ws://{u.ui_host}:{u.ui_port}/ws")
        self._panel_started = False

    async def __aenter__(self) -> HalvedCall:
        try:
            await asyncio.to_thread(self.worker.wait_ready)
            await asyncio.to_thread(self.ui.wait_ready)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._panel_started:
            await self.panel.stop()
        self.worker.stop()
        self.ui.stop()

    @property
    def procs(self) -> tuple[Proc, Proc]:
        return self.worker, self.ui

    async def first_half(self, bus: Bus) -> None:
        await bus.send(self.s.topic_events, self.call_id, CallEvent(
            call_id=self.call_id, kind="started", ts=time.time(), agent_id="agent-1", language="en").to_bytes())
        self.panel.start()
        self._panel_started = True
        for d in self.first:
            await bus.send(self.s.topic_transcripts, self.call_id, seg_record(self.call_id, d))

    async def second_half(self, bus: Bus) -> None:
        for d in self.second:
            await bus.send(self.s.topic_transcripts, self.call_id, seg_record(self.call_id, d))
        await bus.send(self.s.topic_events, self.call_id, CallEvent(
            call_id=self.call_id, kind="ended", ts=time.time(), duration=60.0).to_bytes())

    def summary(self, bus: Bus) -> CallSummary:
        """The QA summary that holds every segment of the call (wait for it first)."""
        return next(r for r in bus.records("qa_calls") if len(r.transcript) == len(self.script))

    def has_summary(self, bus: Bus) -> bool:
        return any(len(r.transcript) == len(self.script) for r in bus.records("qa_calls"))
