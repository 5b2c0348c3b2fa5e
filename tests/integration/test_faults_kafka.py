"""Faults only a real broker allows: Apache Kafka 4.x (KRaft) processes SIGKILLed mid-call.

1. the single broker SIGKILLed and restarted on the same data dir, mid-call: the gateway holds the
   audio and delivers every frame (0 lost, duplicates dropped by (call_id, channel, seq)); the
   streams worker and UI ride it out: every final reaches the agent's panel exactly once and the
   QA summary is complete;
2. a 3-node cluster (RF 3, min ISR 2) with the audio partition's leader SIGKILLed mid-call:
   0 frames lost, the pause measured;
4. a replica down so the in-sync replicas fall below min ISR: a producer is told
   (NotEnoughReplicasError), the gateway's producer logs every refusal and holds the audio
   (backpressure) and delivers all of it once the ISR is whole again.  (min ISR 3 of RF 3 with one
   replica down: in a combined-mode 3-node cluster two nodes down would also lose the KRaft quorum,
   which Strimzi's separate controllers keep.)  aiokafka's idempotent producer never expires a
   batch, so ``ingest_delivery_timeout_s`` does not bound this wait on Kafka: frames are held until
   the buffer fills, then dropped as ``backpressure`` (counted and logged).
(3, the streams worker SIGKILLed on Kafka, is test_faults_streams_restart.py's ``[kafka]`` run.)
Each test prints its numbers (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fault_support import Bus, HalvedCall, Panel
from ingest_support import TOKEN, auth, call_ended, next_json, open_message, read_back
from kafka_support import topic_layout
from prometheus_client import CollectorRegistry
from websockets.asyncio.client import ClientConnection, connect

from assist_ui.settings import DEMO_USERS_FILE, UiSettings
from pipeline.ingest.service import IngestService
from pipeline.ingest.settings import IngestSettings
from streams.contract.audio import AudioFrame
from streams.platform.broker import free_port
from streams.platform.kafka_broker import KafkaCluster
from streams.platform.kafka_clients import ensure_topics, make_consumer, make_producer, start_client
from streams.platform.settings import CommonSettings
from streams.platform.stream_settings import StreamsSettings

pytestmark = pytest.mark.integration

FRAME = b"\x00\x01" * 800  # 100 ms of 8 kHz pcm16
S = TypeVar("S", bound=CommonSettings)


@pytest.fixture(scope="module")
def single_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    with KafkaCluster(tmp_path_factory.mktemp("kafka-1n")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def kafka_3n(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    # ISR shrinks 3 s after a replica stops fetching (default 30 s): keeps the min-ISR test short
    with KafkaCluster(tmp_path_factory.mktemp("kafka-3n"), nodes=3,
                      extra_config={"replica.lag.time.max.ms": "3000"}) as cluster:
        yield cluster


def _settings(cls: type[S], cluster: KafkaCluster, tmp_path: Path, suffix: str, **over: Any) -> S:
    base = CommonSettings()
    topics = {n: f"{getattr(base, n)}.{suffix}" for n in CommonSettings.model_fields if n.startswith("topic_")}
    values: dict[str, Any] = {"broker_url": cluster.url, "partitions": 1, "data_dir": tmp_path / "var",
                              "replication_factor": cluster.replication, **topics}
    values.update(over)
    return cls(**values)


class LiveCall:
    """A live call on the gateway: one 100 ms frame every 100 ms, whatever happens to the broker."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws, self.sent = ws, 0

    async def talk(self, seconds: float) -> None:
        for _ in range(int(seconds * 10)):
            await self.ws.send(b"\x00" + FRAME)
            self.sent += 1
            await asyncio.sleep(0.1)

    async def talk_while(self, task: asyncio.Future[Any]) -> None:
        while not task.done():
            await self.talk(0.5)
        await task


class ArrivalClock:
    """Tails calls.audio and keeps each frame's arrival time: the longest gap is the pause a reader saw."""

    def __init__(self, s: CommonSettings, call: str) -> None:
        self.s, self.call = s, call
        self.arrivals: list[float] = []
        self._task: asyncio.Task[None] | None = None
        self._stop = False

    async def __aenter__(self) -> ArrivalClock:
        self.consumer = make_consumer(self.s, None, self.s.topic_audio)
        await start_client(self.consumer, self.s)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while not self._stop:  # not cancelled: a cancel inside getmany() escapes aiokafka's stop()
            batch = await self.consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            self.arrivals += [now for recs in batch.values() for r in recs
                              if AudioFrame.from_bytes(r.value).call_id == self.call]

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._stop = True
        await self._task
        await self.consumer.stop()

    def longest_gap(self) -> float:
        return max((b - a for a, b in zip(self.arrivals, self.arrivals[1:], strict=False)), default=0.0)


def _dropped(svc: IngestService) -> dict[str, float]:
    reg = svc.metrics.registry
    return {r: reg.get_sample_value("callassist_frames_dropped_total", {"reason": r}) or 0.0
            for r in ("broker", "backpressure")}


def _check_audio(got: Any, sent: int) -> tuple[int, int]:
    """0 frames lost: after dropping duplicates by seq the audio is whole. Returns (records, duplicates)."""
    frames = got.channel("agent")
    unique = {f.seq: f for f in frames}  # the gateway re-frames the 100 ms messages: compare audio bytes
    assert sorted(unique) == list(range(len(unique))), f"a gap in the audio: {sorted(unique)}"
    assert sum(len(f.payload) for f in unique.values()) == sent * len(FRAME), "audio lost"
    return len(frames), len(frames) - len(unique)


async def _open_call(svc: IngestService, call: str) -> Any:
    ws = await connect(svc.url, additional_headers=auth(), max_size=None)
    await ws.send(open_message(call, format={"encoding": "pcm16le", "sample_rate": 8000, "channels": ["agent"]}))
    assert (await next_json(ws))["type"] == "opened"
    return ws


async def _close_call(ws: Any) -> None:
    await ws.send('{"type": "close"}')
    assert (await next_json(ws, wait_s=60))["type"] == "closed"
    await ws.close()


# ---------------------------------------------------------------------------
# 1. the single broker SIGKILLed and restarted on its data dir
# ---------------------------------------------------------------------------
async def test_single_broker_killed_and_restarted_mid_call_loses_no_frame(
    single_kafka: KafkaCluster, tmp_path: Path
) -> None:
    s = _settings(IngestSettings, single_kafka, tmp_path, uuid.uuid4().hex[:8], ingest_port=0, ingest_tokens=TOKEN)
    call = f"kill-{uuid.uuid4().hex[:6]}"
    async with IngestService(s, CollectorRegistry()) as svc:
        ws = await _open_call(svc, call)
        live = LiveCall(ws)
        await live.talk(2.0)
        single_kafka.kill(1)
        down_at = time.monotonic()
        # the caller keeps talking while the broker restarts (JVM start + log recovery)
        await live.talk_while(asyncio.ensure_future(asyncio.to_thread(single_kafka.restart, 1)))
        down_s = time.monotonic() - down_at
        await live.talk(2.0)
        closed_at = time.monotonic()
        await _close_call(ws)
        close_s = time.monotonic() - closed_at
        dropped = _dropped(svc)
    got = (await read_back(s, call_ended(call), wait_s=60)).of(call)
    records, duplicates = _check_audio(got, live.sent)
    print(f"\n[fault 1a] Kafka SIGKILL+restart mid-call: broker down {down_s:.1f} s, frames sent {live.sent}, "
          f"records {records}, duplicates {duplicates}, lost 0, dropped {dropped}, close drained in {close_s:.1f} s")
    assert dropped == {"broker": 0.0, "backpressure": 0.0}
    assert got.ended(call) is not None


class CountingPanel(Panel):
    """The agent panel, also counting how often each final segment was pushed to it."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.final_pushes: Counter[str] = Counter()

    def _apply(self, msg: dict[str, Any]) -> None:
        super()._apply(msg)
        if msg.get("type") == "update" and msg.get("kind") == "segment" and msg["item"].get("is_final"):
            self.final_pushes[msg["item"]["segment_id"]] += 1


async def test_streams_and_panel_ride_out_a_broker_kill_and_restart(
    single_kafka: KafkaCluster, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    s = _settings(StreamsSettings, single_kafka, tmp_path, suffix, log_level="WARNING", metrics_port=free_port(),
                  streams_app_id=f"kill-streams-{suffix}")
    u = _settings(UiSettings, single_kafka, tmp_path, suffix, log_level="WARNING", ui_port=free_port(),
                  metrics_port=free_port(), ui_users_file=DEMO_USERS_FILE)
    await ensure_topics(s)
    async with HalvedCall(s, u, tmp_path, "en_misselling", panel=CountingPanel) as call, Bus(s) as bus:
        panel = call.panel
        assert isinstance(panel, CountingPanel)
        await call.first_half(bus)
        await bus.wait_for(lambda: len(panel.finals()) == len(call.first), 60, *call.procs)
        single_kafka.kill(1)
        down_at = time.monotonic()
        await asyncio.to_thread(single_kafka.restart, 1)
        down_s = time.monotonic() - down_at
        for proc in call.procs:
            assert proc.proc.poll() is None, f"{proc.component} died:\n{proc.tail()}"
        resumed_at = time.monotonic()
        await call.second_half(bus)
        await bus.wait_for(lambda: panel.finals() == sorted(call.sids), 120, *call.procs)
        panel_s = time.monotonic() - resumed_at
        await bus.wait_for(lambda: call.has_summary(bus), 90, *call.procs)
        summary_s = time.monotonic() - resumed_at
        await bus.poll(2.0)  # late duplicates, if any
        assert call.worker.get("/readyz")[0] == 200 and call.ui.get("/readyz")[0] == 200
    summary = call.summary(bus)
    shown = {a.alert_id: a for a in bus.records("alerts")}
    print(f"\n[fault 1b] Kafka SIGKILL+restart between halves of a call: broker down {down_s:.1f} s; second half on "
          f"the panel {panel_s:.1f} s and a complete QA summary {summary_s:.1f} s after the restart; "
          f"finals on the panel {len(panel.finals())}/{len(call.sids)}, pushes per final "
          f"{sorted(set(panel.final_pushes.values()))}, socket connections {panel.connections}, alerts {len(shown)}")
    assert panel.finals() == sorted(call.sids)
    assert all(n == 1 for n in panel.final_pushes.values()), panel.final_pushes  # exactly once
    assert [x.segment_id for x in summary.transcript] == call.sids  # the table kept the first half
    for sid, d in zip(call.sids, call.script, strict=True):
        assert set(d["gold_alerts"]) <= {a.rule_id for a in shown.values() if a.segment_id == sid}, sid


# ---------------------------------------------------------------------------
# 2. 3 nodes, RF 3, min ISR 2: the partition leader SIGKILLed mid-call
# ---------------------------------------------------------------------------
async def test_leader_killed_mid_call_on_three_nodes_loses_no_frame(kafka_3n: KafkaCluster, tmp_path: Path) -> None:
    s = _settings(IngestSettings, kafka_3n, tmp_path, uuid.uuid4().hex[:8], ingest_port=0, ingest_tokens=TOKEN,
                  min_insync_replicas=2)
    call = f"leader-{uuid.uuid4().hex[:6]}"
    async with IngestService(s, CollectorRegistry()) as svc, ArrivalClock(s, call) as clock:
        layout = (await topic_layout(s, s.topic_audio))[0]
        assert len(layout["replicas"]) == 3
        ws = await _open_call(svc, call)
        live = LiveCall(ws)
        await live.talk(3.0)
        leader = layout["leader"]
        kafka_3n.kill(leader)
        killed_at = time.monotonic()
        # KRaft fences a silent broker after broker.session.timeout.ms (9 s) and only then moves leadership
        await live.talk(15.0)
        await _close_call(ws)
        await asyncio.sleep(0.5)
        dropped = _dropped(svc)
        new_leader = (await topic_layout(s, s.topic_audio))[0]
    got = (await read_back(s, call_ended(call), wait_s=60)).of(call)
    records, duplicates = _check_audio(got, live.sent)
    after = [t for t in clock.arrivals if t >= killed_at]
    first_after = (after[0] - killed_at) if after else float("nan")
    print(f"\n[fault 2] 3 nodes RF3 minISR2, leader {leader} SIGKILLed mid-call: new leader {new_leader['leader']} "
          f"(ISR {new_leader['isr']}); longest gap between frames reaching a reader {clock.longest_gap():.2f} s "
          f"(nominal 0.10 s), first frame after the kill {first_after:.2f} s; frames sent {live.sent}, records "
          f"{records}, duplicates {duplicates}, lost 0, dropped {dropped}")
    assert dropped == {"broker": 0.0, "backpressure": 0.0}
    assert new_leader["leader"] != leader
    await asyncio.to_thread(kafka_3n.restart, leader)  # whole again for the next test


# ---------------------------------------------------------------------------
# 4. in-sync replicas below min ISR
# ---------------------------------------------------------------------------
async def _wait_isr(s: CommonSettings, topic: str, size: int, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while len((await topic_layout(s, topic))[0]["isr"]) != size:
        assert time.monotonic() < deadline, f"ISR of {topic} never reached {size}"
        await asyncio.sleep(0.5)


async def test_below_min_isr_the_producer_is_told_and_ingest_holds_the_audio(
    kafka_3n: KafkaCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    s = _settings(IngestSettings, kafka_3n, tmp_path, uuid.uuid4().hex[:8], ingest_port=0, ingest_tokens=TOKEN,
                  min_insync_replicas=3)
    await ensure_topics(s, [s.topic_audio, s.topic_events])
    layout = (await topic_layout(s, s.topic_audio))[0]
    follower = next(n for n in layout["replicas"] if n != layout["leader"])
    call = f"minisr-{uuid.uuid4().hex[:6]}"
    async with IngestService(s, CollectorRegistry()) as svc:
        ws = await _open_call(svc, call)
        live = LiveCall(ws)
        await live.talk(1.0)
        kafka_3n.kill(follower)
        short_at = time.monotonic()
        await live.talk_while(asyncio.ensure_future(_wait_isr(s, s.topic_audio, 2)))
        shrink_s = time.monotonic() - short_at
        # a plain (non-idempotent) producer with a 3 s timeout is told so by the broker
        probe = make_producer(s, request_timeout_ms=3000, enable_idempotence=False)
        await start_client(probe, s)
        try:
            with pytest.raises(Exception) as told:
                await asyncio.wait_for(probe.send_and_wait(s.topic_audio, b"probe", key=b"probe"), 30)
        finally:
            await asyncio.wait_for(probe.stop(), 30)
        await live.talk(8.0)  # below min ISR: the gateway holds the audio
        held = _dropped(svc)
        restore_at = time.monotonic()
        await asyncio.to_thread(kafka_3n.restart, follower)
        await _wait_isr(s, s.topic_audio, 3)
        restore_s = time.monotonic() - restore_at
        await live.talk(2.0)
        await _close_call(ws)
        await asyncio.sleep(0.5)
        dropped = _dropped(svc)
    got = (await read_back(s, call_ended(call), wait_s=60)).of(call)
    records, duplicates = _check_audio(got, live.sent)
    warnings = [r.getMessage() for r in caplog.records if "NotEnoughReplicas" in r.getMessage()]
    print(f"\n[fault 4] RF3 min ISR 3, replica {follower} SIGKILLed: ISR shrank after {shrink_s:.1f} s; a plain producer "
          f"was told {type(told.value).__name__}: {told.value}; NotEnoughReplicas warnings logged by the gateway's "
          f"producer {len(warnings)}; frames sent {live.sent}, records {records}, duplicates {duplicates}, lost 0, "
          f"dropped while short {held}, at the end {dropped}; ISR whole {restore_s:.1f} s after the restart")
    assert warnings, "the broker's NotEnoughReplicas never reached the log"
    assert dropped == {"broker": 0.0, "backpressure": 0.0}
