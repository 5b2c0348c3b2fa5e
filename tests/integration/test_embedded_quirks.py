"""The embedded-broker workarounds (streams.platform.embedded_quirks), each shown to matter.

Every test runs against a real Tansu broker and, for the Faust cases, a real Faust worker
started as its own process. ``quirks=False`` runs show the broker really misbehaves
without the workaround, so the workaround is not dead code.  The ``_on_kafka`` tests run the
same checks on Apache Kafka 4.x with the workarounds off: there they are unneeded.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from aiokafka.structs import TopicPartition
from kafka_support import topic_config

from streams.platform import embedded_quirks
from streams.platform.broker import EmbeddedBroker
from streams.platform.kafka_broker import KafkaCluster
from streams.platform.kafka_clients import ensure_topics, make_consumer, make_producer, start_client
from streams.platform.settings import CommonSettings

pytestmark = pytest.mark.integration

APP = Path(__file__).with_name("faust_probe_app.py")
REPO = Path(__file__).resolve().parents[2]


async def _produce_batched(settings: CommonSettings, topic: str, n: int) -> None:
    producer = make_producer(settings, linger_ms=20)
    await start_client(producer, settings)
    try:
        futures = [await producer.send(topic, str(i).encode(), key=b"k", partition=0) for i in range(n)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def test_end_offsets_are_the_high_watermark(broker_settings: CommonSettings) -> None:
    topic = broker_settings.topic_events
    await ensure_topics(broker_settings, [topic], partitions=1)
    await _produce_batched(broker_settings, topic, 500)
    tp = TopicPartition(topic, 0)
    consumer = make_consumer(broker_settings, None)
    await start_client(consumer, broker_settings)
    try:
        embedded_quirks.revert()
        raw = (await consumer.end_offsets([tp]))[tp]
        embedded_quirks.apply()
        fixed = (await consumer.end_offsets([tp]))[tp]
    finally:
        embedded_quirks.apply()
        await consumer.stop()
    assert raw < 500, "Tansu now reports correct end offsets: the workaround may be dropped"
    assert fixed == 500


async def test_group_join_is_fast(broker_settings: CommonSettings) -> None:
    topic = broker_settings.topic_alerts
    await ensure_topics(broker_settings, [topic], partitions=1)
    await _produce_batched(broker_settings, topic, 1)
    consumer = make_consumer(broker_settings, f"join-{uuid.uuid4().hex[:6]}", topic)
    started = time.monotonic()
    await start_client(consumer, broker_settings)
    try:
        msg = await asyncio.wait_for(consumer.getone(), 20)
        joined_in = time.monotonic() - started
    finally:
        await consumer.stop()
    assert msg.value == b"0"
    # default 30 s session timeout: JoinGroup alone waits ~15 s on Tansu
    assert joined_in < 8, f"group join took {joined_in:.1f} s"


# ---------------------------------------------------------------------------
# Faust worker as a real process
# ---------------------------------------------------------------------------
class FaustWorker:
    def __init__(self, broker: EmbeddedBroker | KafkaCluster, app_id: str, prefix: str, quirks: bool, tmp: Path) -> None:
        env = {
            **os.environ,
            "CALLASSIST_BROKER_URL": broker.url,
            "CALLASSIST_BROKER_EMBEDDED": "true" if quirks else "false",
            "CALLASSIST_DATA_DIR": str(tmp),
            "PYTHONPATH": str(REPO),
        }
        if quirks is False and isinstance(broker, EmbeddedBroker):
            # without the workaround a first join waits session_timeout/2: keep the run short
            env["CALLASSIST_SESSION_TIMEOUT_S"] = "6"
            env["CALLASSIST_HEARTBEAT_INTERVAL_S"] = "1"
        self.log = tmp / f"{app_id}-{uuid.uuid4().hex[:4]}.log"
        self._log = open(self.log, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), app_id, prefix], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


async def _probe_totals(
    settings: CommonSettings, prefix: str, keys: list[str], wait_s: float, worker: FaustWorker
) -> dict[str, int]:
    """Send a 0 for each key and collect the totals the worker reports."""
    consumer = make_consumer(settings, None, f"{prefix}.out")
    await start_client(consumer, settings)
    producer = make_producer(settings)
    await start_client(producer, settings)
    totals: dict[str, int] = {}
    try:
        deadline = time.monotonic() + wait_s
        for k in keys:
            await producer.send_and_wait(f"{prefix}.counts", b"-1" if k == "__all__" else b"0", key=k.encode())
        while time.monotonic() < deadline and len(totals) < len(keys):
            assert worker.proc.poll() is None, f"Faust worker died: {worker.log.read_text()[-3000:]}"
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for r in records:
                    key, _, total = r.value.decode().partition("=")
                    totals[key] = int(total)
    finally:
        await consumer.stop()
        await producer.stop()
    return totals


async def _table_survives_restart(
    embedded_broker: EmbeddedBroker | KafkaCluster, tmp_path: Path, quirks: bool, prefix: str = ""
) -> dict[str, int]:
    prefix = prefix or f"recov{uuid.uuid4().hex[:6]}"
    app_id = f"probe-{prefix}"
    settings = CommonSettings(broker_url=embedded_broker.url, broker_embedded=quirks)
    await ensure_topics(settings, [f"{prefix}.counts", f"{prefix}.out", f"{prefix}.hop", f"{prefix}.hop_out"], 1)
    # 5,000 updates over 1,000 keys: the changelog ends in large multi-record batches
    keys = [f"k{i}" for i in range(1000)]
    producer = make_producer(settings, linger_ms=10)
    await start_client(producer, settings)
    try:
        futures = [await producer.send(f"{prefix}.counts", b"1", key=keys[i % 1000].encode()) for i in range(5000)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    first = FaustWorker(embedded_broker, app_id, prefix, quirks, tmp_path)
    try:
        before = await _probe_totals(settings, prefix, ["__all__"], wait_s=90, worker=first)
    finally:
        first.stop()
    assert before == {"__all__": 5000}, f"first worker did not count everything: {before}"
    second = FaustWorker(embedded_broker, app_id, prefix, quirks, tmp_path)
    try:
        # probes are answered only after table recovery finished
        return await _probe_totals(settings, prefix, ["__all__"] + keys[:5], wait_s=90, worker=second)
    finally:
        second.stop()


async def test_faust_table_recovers_all_updates_after_restart(embedded_broker: EmbeddedBroker, tmp_path: Path) -> None:
    after = await _table_survives_restart(embedded_broker, tmp_path, quirks=True)
    assert after == {"__all__": 5000, **{f"k{i}": 5 for i in range(5)}}


async def _hop_latencies(
    embedded_broker: EmbeddedBroker | KafkaCluster, tmp_path: Path, quirks: bool, n: int = 60
) -> list[float]:
    prefix = f"hop{uuid.uuid4().hex[:6]}"
    settings = CommonSettings(broker_url=embedded_broker.url, broker_embedded=quirks)
    await ensure_topics(settings, [f"{prefix}.counts", f"{prefix}.out", f"{prefix}.hop", f"{prefix}.hop_out"], 1)
    worker = FaustWorker(embedded_broker, f"probe-{prefix}", prefix, quirks, tmp_path)
    consumer = make_consumer(settings, None, f"{prefix}.hop_out")
    producer = make_producer(settings, linger_ms=0)
    await start_client(consumer, settings)
    await start_client(producer, settings)
    latencies: list[float] = []
    try:
        # warm-up: wait until the worker forwards at all
        deadline = time.monotonic() + 90
        warm = False
        while not warm and time.monotonic() < deadline:
            await producer.send_and_wait(f"{prefix}.hop", b"warmup", key=b"w")
            batch = await consumer.getmany(timeout_ms=1000)
            warm = any(batch.values())
        assert warm and worker.proc.poll() is None, f"Faust worker never forwarded (log: {worker.log.read_text()[-2000:]})"
        for i in range(n):
            sent = time.monotonic()
            await producer.send_and_wait(f"{prefix}.hop", str(i).encode(), key=b"h")
            while True:
                batch = await consumer.getmany(timeout_ms=3000)
                values = [r.value for recs in batch.values() for r in recs]
                if str(i).encode() in values:
                    latencies.append(time.monotonic() - sent)
                    break
                assert values or time.monotonic() - sent < 10, "record lost in the hop"
            await asyncio.sleep(0.02)
    finally:
        await consumer.stop()
        await producer.stop()
        worker.stop()
    return sorted(latencies)


async def test_one_faust_hop_is_fast(embedded_broker: EmbeddedBroker, tmp_path: Path) -> None:
    latencies = await _hop_latencies(embedded_broker, tmp_path, quirks=True)
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95) - 1]
    print(f"one Faust hop on Tansu, workarounds on: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    assert p95 < 0.2, f"p95 {p95 * 1000:.0f} ms"


# ---------------------------------------------------------------------------
# Apache Kafka: the same checks with the workarounds off (they are not needed there)
# ---------------------------------------------------------------------------
def _kafka_settings(kafka_broker: KafkaCluster, tmp_path: Path) -> CommonSettings:
    suffix = uuid.uuid4().hex[:8]
    return CommonSettings(
        broker_url=kafka_broker.url, broker_embedded=False, data_dir=tmp_path,
        topic_events=f"calls.events.{suffix}", topic_alerts=f"assist.alerts.{suffix}",
    )


async def test_workarounds_stay_off_on_kafka(
    embedded_broker: EmbeddedBroker, kafka_broker: KafkaCluster, tmp_path: Path
) -> None:
    # the Tansu patches are installed in this process, yet a Kafka client does not get them
    embedded_quirks.apply(embedded_broker.url)
    settings = _kafka_settings(kafka_broker, tmp_path)
    consumer = make_consumer(settings, "g")
    try:
        assert embedded_quirks.is_applied() and embedded_quirks.active_for(embedded_broker.url)
        assert not embedded_quirks.active_for(settings.bootstrap_servers())
        assert consumer._fetch_max_wait_ms == 200 and consumer._session_timeout_ms == 30000
    finally:
        await consumer.stop()


async def test_end_offsets_are_right_on_kafka_without_workaround(kafka_broker: KafkaCluster, tmp_path: Path) -> None:
    settings = _kafka_settings(kafka_broker, tmp_path)
    topic = settings.topic_events
    await ensure_topics(settings, [topic], partitions=1)
    await _produce_batched(settings, topic, 500)
    tp = TopicPartition(topic, 0)
    consumer = make_consumer(settings, None)
    await start_client(consumer, settings)
    try:
        embedded_quirks.revert()  # aiokafka exactly as shipped
        raw = (await consumer.end_offsets([tp]))[tp]
    finally:
        embedded_quirks.apply()
        await consumer.stop()
    assert raw == 500


async def test_group_join_is_fast_on_kafka_with_default_timeouts(kafka_broker: KafkaCluster, tmp_path: Path) -> None:
    settings = _kafka_settings(kafka_broker, tmp_path)
    topic = settings.topic_alerts
    await ensure_topics(settings, [topic], partitions=1)
    await _produce_batched(settings, topic, 1)
    timings = []
    for _ in range(2):  # the second join follows a member that just left: Tansu's slow case
        consumer = make_consumer(settings, f"join-{topic}", topic)
        started = time.monotonic()
        await start_client(consumer, settings)
        try:
            msg = await asyncio.wait_for(consumer.getone(), 20)
            timings.append(time.monotonic() - started)
        finally:
            await consumer.stop()
        assert msg.value == b"0"
    print(f"Kafka group join with a 30 s session timeout: {', '.join(f'{t:.2f} s' for t in timings)}")
    assert max(timings) < 8, f"group joins took {timings}"


async def test_faust_table_recovers_on_kafka_without_workaround(kafka_broker: KafkaCluster, tmp_path: Path) -> None:
    prefix = f"recov{uuid.uuid4().hex[:6]}"
    after = await _table_survives_restart(kafka_broker, tmp_path, quirks=False, prefix=prefix)
    assert after == {"__all__": 5000, **{f"k{i}": 5 for i in range(5)}}
    # the table's changelog is compacted on Kafka (Faust's default; Tansu cannot compact)
    settings = CommonSettings(broker_url=kafka_broker.url)
    changelog = await topic_config(settings, f"probe-{prefix}-totals-changelog")
    assert changelog["cleanup.policy"] == "compact"


async def test_one_faust_hop_is_fast_on_kafka_without_workaround(kafka_broker: KafkaCluster, tmp_path: Path) -> None:
    latencies = await _hop_latencies(kafka_broker, tmp_path, quirks=False)
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95) - 1]
    print(f"one Faust hop on Kafka, Faust's own 1.5 s fetch wait: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    assert p95 < 0.2, f"p95 {p95 * 1000:.0f} ms"
