"""run_service(): registry injected, shared series served, signal -> graceful stop, failures -> stop + exit code."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from streams.platform.metrics_catalogue import SharedSeries
from streams.platform.service import EXIT_FAILED, EXIT_OK, EXIT_USAGE, run_service

pytestmark = pytest.mark.unit

SHARED = ("callassist_build_info", "callassist_errors_total", "callassist_consumer_lag",
          "callassist_active_calls", "callassist_audio_seconds_total", "callassist_frames_dropped_total")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeService:
    """Records the lifecycle calls; ``run()`` waits for request_stop() unless told to fail."""

    def __init__(self, registry: CollectorRegistry, fail_start: Exception | None = None,
                 fail_run: Exception | None = None, on_run=None) -> None:
        self.registry = registry
        self.calls: list[str] = []
        self.fail_start, self.fail_run, self.on_run = fail_start, fail_run, on_run
        self._stop = asyncio.Event()
        self.started = False

    def ready(self) -> bool:
        return self.started

    async def start(self) -> None:
        self.calls.append("start")
        if self.fail_start is not None:
            raise self.fail_start
        self.started = True

    async def run(self) -> None:
        self.calls.append("run")
        if self.on_run is not None:
            await asyncio.to_thread(self.on_run, self)
        if self.fail_run is not None:
            raise self.fail_run
        await self._stop.wait()

    def request_stop(self) -> None:
        self.calls.append("request_stop")
        self._stop.set()

    async def stop(self) -> None:
        self.calls.append("stop")


def _run(registry=None, port: int = 0, **kw) -> tuple[int, FakeService]:
    made: list[FakeService] = []

    def make(reg: CollectorRegistry) -> FakeService:
        made.append(FakeService(reg, **kw))
        return made[0]

    code = run_service(make, component="emotion", metrics_port=port, registry=registry)
    return code, made[0]


def test_sigterm_stops_gracefully_and_the_registry_is_the_injected_one() -> None:
    registry = CollectorRegistry()
    port = free_port()
    scraped: dict[str, str] = {}

    def scrape_then_signal(svc: FakeService) -> None:
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            scraped["metrics"] = r.read().decode()
        with urllib.request.urlopen(base + "/readyz", timeout=5) as r:
            scraped["readyz"] = str(r.status)
        os.kill(os.getpid(), signal.SIGTERM)

    code, svc = _run(registry, port, on_run=scrape_then_signal)
    assert code == EXIT_OK
    assert svc.calls == ["start", "run", "request_stop", "stop"]
    assert svc.registry is registry
    assert scraped["readyz"] == "200"
    for name in SHARED:
        assert re.search(rf"^# TYPE {name.removesuffix('_total')}(_total)? ", scraped["metrics"], re.M), name
    assert 'callassist_build_info{component="emotion"' in scraped["metrics"]
    assert 'callassist_errors_total{component="emotion",kind="internal"} 0.0' in scraped["metrics"]
    assert registry.get_sample_value("callassist_active_calls", {"component": "emotion"}) == 0


def test_sigint_stops_too() -> None:
    code, svc = _run(on_run=lambda _svc: os.kill(os.getpid(), signal.SIGINT))
    assert code == EXIT_OK and svc.calls[-2:] == ["request_stop", "stop"]


def test_a_failing_start_is_stopped_and_exits_non_zero() -> None:
    code, svc = _run(fail_start=RuntimeError("broker unreachable"))
    assert code == EXIT_FAILED
    assert svc.calls == ["start", "stop"]  # stop() releases what a partial start took


def test_a_usage_error_in_start_exits_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    made = []

    def make(reg):
        made.append(FakeService(reg, fail_start=ValueError("CALLASSIST_X is not set")))
        return made[0]

    assert run_service(make, component="ui", usage_errors=(ValueError,)) == EXIT_USAGE
    assert "callassist ui: CALLASSIST_X is not set" in capsys.readouterr().err
    assert made[0].calls == ["start", "stop"]


def test_a_failing_run_is_stopped_and_exits_non_zero() -> None:
    code, svc = _run(fail_run=RuntimeError("lost the broker"))
    assert code == EXIT_FAILED and svc.calls == ["start", "run", "stop"]


def test_shared_series_are_created_once_per_registry() -> None:
    registry = CollectorRegistry()
    first = SharedSeries.of(registry).install("asr")
    assert SharedSeries.of(registry) is first  # component metrics and the bootstrap share the families
    assert registry.get_sample_value("callassist_frames_dropped_total", {"reason": "backpressure"}) == 0
    assert registry.get_sample_value("callassist_audio_seconds_total", {"channel": "customer"}) == 0
    with pytest.raises(ValueError):
        SharedSeries.of(registry).install("nobody")


class BlockingFake:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def ready(self) -> bool:
        return True

    def start(self) -> None:
        self.calls.append("start")

    def run(self) -> int:
        self.calls.append("run")
        return 3

    def stop(self) -> None:
        self.calls.append("stop")


def test_a_blocking_service_keeps_its_own_loop_and_exit_code() -> None:
    svc = BlockingFake()
    assert run_service(lambda _reg: svc, component="streams") == 3
    assert svc.calls == ["start", "run", "stop"]


def test_system_exit_in_start_still_stops_and_propagates() -> None:
    made = []

    def make(reg):
        made.append(FakeService(reg, fail_start=SystemExit("callassist asr: no model")))
        return made[0]

    with pytest.raises(SystemExit, match="no model"):
        run_service(make, component="asr")
    assert made[0].calls == ["start", "stop"]
