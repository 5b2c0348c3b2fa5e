"""The brokers' life cycles (embedded Tansu, Apache Kafka KRaft) and the clear errors around brokers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from streams.platform.broker import BrokerError, EmbeddedBroker, kafka_metadata_brokers, kafka_metadata_ok
from streams.platform.kafka_broker import KafkaCluster
from streams.platform.kafka_clients import (
    BrokerUnavailable,
    ensure_topics,
    make_consumer,
    make_producer,
    start_client,
)
from streams.platform.settings import CommonSettings

pytestmark = pytest.mark.integration


def _pids_of(binary_fragment: str) -> set[int]:
    out = subprocess.run(["pgrep", "-f", binary_fragment], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


def test_start_answer_stop_no_orphan() -> None:
    broker = EmbeddedBroker()
    broker.start()
    pid = broker.pid
    assert kafka_metadata_ok("127.0.0.1", broker.port)
    broker.stop()
    assert pid is not None
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert not kafka_metadata_ok("127.0.0.1", broker.port)


def test_port_taken_is_a_clear_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(BrokerError, match="already in use"):
            EmbeddedBroker(port=port).start()


def test_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="does not exist"):
        EmbeddedBroker(binary=str(tmp_path / "no-such-tansu")).start()


async def test_unreachable_broker_fails_fast_without_hanging() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = CommonSettings(broker_url=f"127.0.0.1:{port}", broker_connect_timeout_s=3)
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match="cannot reach the Kafka broker"):
        await ensure_topics(settings)
    assert time.monotonic() - started < 6


async def test_blackholed_broker_times_out_clearly() -> None:
    # a listener that accepts but never answers: the client must give up, not hang
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        settings = CommonSettings(broker_url=f"127.0.0.1:{s.getsockname()[1]}", broker_connect_timeout_s=2)
        started = time.monotonic()
        with pytest.raises(BrokerUnavailable):
            await ensure_topics(settings)
        assert time.monotonic() - started < 5


def test_broker_command_stops_cleanly_on_sigterm_without_orphans() -> None:
    before = _pids_of("tansu broker")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "broker"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ},
    )
    assert proc.stdout is not None
    line = ""
    deadline = time.monotonic() + 20
    while "CALLASSIST_BROKER_URL=" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
    assert "CALLASSIST_BROKER_URL=" in line
    url = line.split("CALLASSIST_BROKER_URL=")[1].split()[0]
    host, port = url.split(":")
    assert kafka_metadata_ok(host, int(port))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    time.sleep(0.3)
    assert _pids_of("tansu broker") <= before
    assert not kafka_metadata_ok(host, int(port))


def test_component_without_broker_exits_nonzero_with_message() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLASSIST_")}
    env["CALLASSIST_BROKER_URL"] = "127.0.0.1:1"
    env["CALLASSIST_BROKER_CONNECT_TIMEOUT_S"] = "2"
    proc = subprocess.run(
        [sys.executable, "-c", "import asyncio; from streams.platform.kafka_clients import ensure_topics;"
         "from streams.platform.settings import CommonSettings; asyncio.run(ensure_topics(CommonSettings()))"],
        capture_output=True, text=True, env=env, timeout=30,
    )
    assert proc.returncode != 0
    assert "cannot reach the Kafka broker" in proc.stderr


# ---------------------------------------------------------------------------
# Apache Kafka (KRaft) launched by callassist
# ---------------------------------------------------------------------------
def _java_pids_for(data_dir: Path) -> set[int]:
    return _pids_of(f"kafka.Kafka {data_dir}")


def test_kafka_missing_jars_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="make kafka"):
        KafkaCluster(tmp_path / "data", libs_dir=tmp_path / "no-jars").start()


def test_kafka_missing_java_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BrokerError, match="no `java` on PATH"):
        KafkaCluster(tmp_path / "data").start()


async def test_kafka_keeps_records_across_restart_and_moves_off_a_taken_port(tmp_path: Path) -> None:
    cluster = KafkaCluster(tmp_path / "kafka")
    cluster.start()
    settings = CommonSettings(broker_url=cluster.url, topic_events="durable.events")
    try:
        assert kafka_metadata_brokers("127.0.0.1", cluster.nodes[0].port) == 1
        await ensure_topics(settings, [settings.topic_events], partitions=1)
        producer = make_producer(settings)
        await start_client(producer, settings)
        for i in range(100):
            await producer.send(settings.topic_events, str(i).encode(), key=b"k")
        await producer.flush()
        await producer.stop()
    finally:
        cluster.stop()
    assert not _java_pids_for(cluster.nodes[0].dir)
    old_port = cluster.nodes[0].port
    with socket.socket() as squatter:  # someone took the port meanwhile: the node moves to a free one
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        with KafkaCluster(tmp_path / "kafka") as again:
            assert again.nodes[0].port != old_port
            settings = settings.model_copy(update={"broker_url": again.url})
            consumer = make_consumer(settings, None, settings.topic_events)
            await start_client(consumer, settings)
            try:
                got: list[bytes] = []
                deadline = time.monotonic() + 20
                while len(got) < 100 and time.monotonic() < deadline:
                    batch = await consumer.getmany(timeout_ms=500)
                    got += [r.value for recs in batch.values() for r in recs]
            finally:
                await consumer.stop()
    assert got == [str(i).encode() for i in range(100)]


def test_kafka_broker_command_stops_cleanly_on_sigterm_without_orphan_jvm(tmp_path: Path) -> None:
    data_dir = tmp_path / "kafka-cli"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "broker", "--kafka", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ},
    )
    assert proc.stdout is not None
    line, seen = "", []
    deadline = time.monotonic() + 120
    while "CALLASSIST_BROKER_URL=" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break  # the command exited
        seen.append(line)
    assert "CALLASSIST_BROKER_URL=" in line, f"exit code {proc.poll()}, output:\n{''.join(seen)}"
    assert "CALLASSIST_BROKER_EMBEDDED=false" in line
    host, port = line.split("CALLASSIST_BROKER_URL=")[1].split()[0].split(":")
    assert kafka_metadata_brokers(host, int(port)) == 1
    assert _java_pids_for(data_dir / "node-1")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert not _java_pids_for(data_dir / "node-1")
    assert not kafka_metadata_ok(host, int(port))


def test_broker_started_from_a_short_lived_thread_outlives_the_thread() -> None:
    # PDEATHSIG follows the forking *thread*: a broker started from asyncio.to_thread used to get
    # SIGTERM when the executor's thread ended (found by test_faults_kafka.py)
    broker = EmbeddedBroker()
    starter = threading.Thread(target=broker.start)
    starter.start()
    starter.join()
    time.sleep(0.5)
    try:
        assert broker.running() and kafka_metadata_ok("127.0.0.1", broker.port)
    finally:
        broker.stop()
