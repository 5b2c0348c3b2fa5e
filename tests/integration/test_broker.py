"""The embedded broker's life cycle and the clear errors around brokers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.broker import BrokerError, EmbeddedBroker, kafka_metadata_ok
from streams.kafka_clients import BrokerUnavailable, ensure_topics
from streams.settings import CommonSettings

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
        [sys.executable, "-c", "import asyncio; from streams.kafka_clients import ensure_topics;"
         "from streams.settings import CommonSettings; asyncio.run(ensure_topics(CommonSettings()))"],
        capture_output=True, text=True, env=env, timeout=30,
    )
    assert proc.returncode != 0
    assert "cannot reach the Kafka broker" in proc.stderr
