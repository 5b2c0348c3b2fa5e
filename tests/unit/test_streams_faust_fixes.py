"""The two Faust hand-over fixes (streams/worker/faust_fixes.py), checked without a broker.

The end-to-end proof is tests/integration/test_faults_streams_restart.py (a real worker killed
and restarted on the real broker); these pin the two properties it depends on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP

from streams.platform.settings import CommonSettings
from streams.worker.faust_app import make_app
from streams.worker.faust_fixes import CallassistApp, SafeResumeRecovery, SnapshotConsumer

pytestmark = pytest.mark.unit

STREAM = TP("calls.transcripts", 0)
CHANGELOG = TP("app-callstate-changelog", 0)


class RecordingThread:
    """Stands in for Faust's consumer thread: keeps what it was asked for, then lets time pass."""

    def __init__(self, live: set[TP]) -> None:
        self.live = live
        self.asked: Any = None

    async def getmany(self, active_partitions: Any, timeout: float) -> dict:  # noqa: ASYNC109
        self.asked = active_partitions
        self.live.clear()  # meanwhile recovery pauses everything (the set Faust owns goes empty)
        return {}


def test_the_fetcher_thread_gets_a_frozen_copy_of_the_active_partitions() -> None:
    live = {CHANGELOG}
    consumer = SnapshotConsumer.__new__(SnapshotConsumer)  # only _getmany is exercised
    consumer._thread = RecordingThread(live)  # type: ignore[assignment]
    asyncio.run(consumer._getmany(live, 1.0))
    thread = consumer._thread
    # an empty set means "every partition" to aiokafka; the thread must still see what Faust asked for
    assert thread.asked == frozenset({CHANGELOG}) and isinstance(thread.asked, frozenset)  # type: ignore[attr-defined]


def test_client_only_apps_still_ask_for_everything() -> None:
    consumer = SnapshotConsumer.__new__(SnapshotConsumer)
    consumer._thread = RecordingThread(set())  # type: ignore[assignment]
    asyncio.run(consumer._getmany(None, 1.0))
    assert consumer._thread.asked is None  # type: ignore[attr-defined]


class Calls(list):
    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: self.append((name, *a))


class FakeRecovery:
    """The attributes of a Recovery that the hand-over touches, recording the order of calls."""

    def __init__(self) -> None:
        self.calls = Calls()
        calls = self.calls

        class Consumer:
            def assignment(self) -> set[TP]:
                return {STREAM, CHANGELOG}

            async def perform_seek(self) -> None:
                calls.append(("seek",))

            def resume_partitions(self, tps: set[TP]) -> None:
                calls.append(("resume_partitions", frozenset(tps)))

            def resume_flow(self) -> None:
                calls.append(("resume_flow",))

        class Fetcher:
            async def maybe_start(self) -> None:
                calls.append(("fetcher_start",))

        class FlowControl:
            def resume(self) -> None:
                calls.append(("clear_buffers_and_resume",))

        class App:
            consumer = Consumer()
            flow_control = FlowControl()
            _fetcher = Fetcher()

            class conf:  # noqa: N801 - mirrors faust's app.conf
                broker_request_timeout = 5.0

        self.app = App()
        self.completed = asyncio.Event()
        self.tables = calls
        self.log = Calls()

    def _is_changelog_tp(self, tp: TP) -> bool:
        return tp == CHANGELOG

    async def _wait(self, coro: Any, timeout: float | None = None) -> None:  # noqa: ASYNC109
        await coro


def test_recovery_seeks_and_clears_the_buffers_before_any_stream_partition_resumes() -> None:
    fake = FakeRecovery()
    asyncio.run(SafeResumeRecovery._seek_then_resume_streams(fake))  # type: ignore[arg-type]
    order = [c[0] for c in fake.calls]
    assert order == ["seek", "clear_buffers_and_resume", "resume_partitions", "resume_flow",
                     "fetcher_start", "on_actives_ready"]
    assert fake.calls[2] == ("resume_partitions", frozenset({STREAM}))  # never the changelog
    assert fake.completed.is_set()


def test_the_streams_app_is_built_with_both_fixes(tmp_path: Path) -> None:
    settings = CommonSettings(broker_url="127.0.0.1:1", broker_embedded=False, data_dir=tmp_path)
    app = make_app(settings, "fixes-probe")  # builds only: nothing connects before the worker starts
    assert isinstance(app, CallassistApp)
    assert type(app.tables.recovery) is SafeResumeRecovery
    assert type(app.transport).Consumer is SnapshotConsumer
    # on a real Kafka broker the idempotent producer comes on top of the fix, never instead of it
    from streams.worker.faust_fixes import IdempotentProducer
    assert settings.producer_idempotence and type(app.transport).Producer is IdempotentProducer


def test_the_embedded_broker_app_keeps_the_fix_without_the_idempotent_producer(tmp_path: Path) -> None:
    from streams.worker.faust_fixes import IdempotentProducer

    settings = CommonSettings(broker_url="127.0.0.1:1", broker_embedded=True, data_dir=tmp_path)
    app = make_app(settings, "fixes-probe-embedded")
    assert type(app.transport).Consumer is SnapshotConsumer
    assert type(app.transport).Producer is not IdempotentProducer


def test_another_faust_release_refuses_to_start_until_the_fixes_are_rechecked() -> None:
    from streams.worker.faust_fixes import TESTED_FAUST_VERSION, check_faust_version

    check_faust_version(TESTED_FAUST_VERSION)
    with pytest.raises(RuntimeError, match="re-check each fix"):
        check_faust_version("0.16.0")


def test_the_worker_stops_being_ready_when_faust_shuts_down(tmp_path: Path) -> None:
    from streams.platform.stream_settings import StreamsSettings
    from streams.worker.agents import StreamsWorker

    settings = StreamsSettings(broker_url="127.0.0.1:1", broker_embedded=False, data_dir=tmp_path)
    worker = StreamsWorker(settings)  # builds the app and its agents; nothing connects
    worker.ready = True
    asyncio.run(worker.app.on_before_shutdown.send())  # what Faust sends once its consumer stopped
    assert not worker.is_ready()
