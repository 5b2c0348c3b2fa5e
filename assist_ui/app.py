"""Wiring of ``callassist ui``: store + server + live bridge + QA sink + metrics, and their lifecycle.

The Kafka loops are supervised: if the broker goes away they log, report not-ready and
retry with back-off instead of taking the pages (and the QA review) down with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry

from assist_ui.auth import load_users
from assist_ui.kafka_bridge import LiveBridge, consume_live, topic_kinds
from assist_ui.metrics import UiMetrics
from assist_ui.server import UiServer
from assist_ui.settings import UiSettings
from assist_ui.sink import QaSink, consume_qa_calls
from assist_ui.store import QaStore, make_store
from streams.platform.lag import stop as stop_sampler

log = logging.getLogger(__name__)


class UiApp:
    def __init__(self, settings: UiSettings, registry: CollectorRegistry | None = None) -> None:
        if settings.ui_consumer_start not in ("lookback", "earliest", "latest"):
            raise ValueError("CALLASSIST_UI_CONSUMER_START must be 'lookback', 'earliest' or 'latest'")
        if (settings.ui_bridge_enabled or settings.ui_sink_enabled) and not settings.broker_url:
            settings.bootstrap_servers()  # raises BrokerNotConfigured with the how-to
        self.settings = settings
        self.users = load_users(settings.ui_users_json, settings.ui_users_file)
        kinds = topic_kinds(settings)
        consumed = [*kinds] if settings.ui_bridge_enabled else []
        consumed += [settings.topic_qa_calls] if settings.ui_sink_enabled else []
        self.metrics = UiMetrics(registry, consumed)
        self.store: QaStore = make_store(settings)
        self.server = UiServer(settings, self.users, self.store, self.metrics, ready_check=self.ready)
        self.bridge = LiveBridge(
            self.server.state, self.server.hub, self.metrics, settings.ui_wall_interval_s, topics=kinds
        )
        self.sink = QaSink(self.store, self.metrics, topic=settings.topic_qa_calls)
        self.consumers: dict[str, Any] = {}  # running Kafka consumers, for the lag sampler
        self.stop_event = asyncio.Event()
        self.bridge_ready = asyncio.Event()
        self.sink_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._lag_task: asyncio.Task[None] | None = None
        self._ready = False

    def is_ready(self) -> bool:
        """/readyz from the metrics thread: the flag :meth:`_watch_readiness` keeps fresh."""
        return self._ready

    async def ready(self) -> bool:
        if self.stop_event.is_set():
            self._ready = False  # draining: stop sending traffic here
            return False
        ok = await self.store.ping()
        if self.settings.ui_bridge_enabled:
            ok = ok and self.bridge_ready.is_set()
        if self.settings.ui_sink_enabled:
            ok = ok and self.sink.healthy  # a sink stuck on its store cannot make progress
        self._ready = ok
        return ok

    async def start(self) -> UiApp:
        await self.store.open()
        log.info("QA store %r at schema version %d", self.store, await self.store.schema_version())
        if self.settings.create_topics and (self.settings.ui_bridge_enabled or self.settings.ui_sink_enabled):
            from streams.platform.kafka_clients import ensure_topics

            await ensure_topics(self.settings, [*topic_kinds(self.settings), self.settings.topic_qa_calls])
        await self.server.start()
        self._tasks.append(asyncio.create_task(self.bridge.run_housekeeping(self.stop_event), name="ui-housekeeping"))
        self._tasks.append(asyncio.create_task(self._watch_readiness(), name="ui-readiness"))
        if self.settings.ui_bridge_enabled:
            self._tasks.append(self._supervise("live bridge", lambda: consume_live(
                self.settings, self.bridge, self.stop_event, self.bridge_ready, self.consumers), self.bridge_ready))
        if self.settings.ui_sink_enabled:
            self._tasks.append(self._supervise("qa sink", lambda: consume_qa_calls(
                self.settings, self.sink, self.stop_event, self.sink_ready, self.consumers), self.sink_ready))
        self._lag_task = asyncio.create_task(self.metrics.lag.run(self._sample_lag), name="ui-lag")
        # /metrics /healthz /readyz: served by the process bootstrap (streams.platform.service.run_service)
        return self

    async def _sample_lag(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for consumer in list(self.consumers.values()):
            for topic, lag in (await self.metrics.lag.sample_aiokafka(consumer)).items():
                total[topic] = total.get(topic, 0) + lag
        return total

    async def _watch_readiness(self) -> None:
        # /readyz on the metrics port is answered from a thread: keep a fresh flag for it
        while not self.stop_event.is_set():
            try:
                await self.ready()
            except Exception as exc:  # a failing store ping means "not ready"
                log.warning("readiness check failed: %s", exc)
                self._ready = False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), 2.0)

    def _supervise(self, name: str, run: Callable[[], Awaitable[None]], ready: asyncio.Event) -> asyncio.Task[None]:
        async def loop() -> None:
            backoff = 0.5
            while not self.stop_event.is_set():
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    ready.clear()
                    self.metrics.error("broker")
                    log.error("%s stopped (%s: %s); restarting in %.1f s", name, type(exc).__name__, exc, backoff)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stop_event.wait(), backoff)
                    backoff = min(backoff * 2, 30.0)

        return asyncio.create_task(loop(), name=name)

    async def stop(self) -> None:
        self.stop_event.set()
        self._ready = False
        await stop_sampler(self._lag_task)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
        self._tasks.clear()
        await self.server.stop()
        await self.store.close()

    async def run_forever(self) -> None:
        await self.start()
        try:
            await self.stop_event.wait()
        finally:
            await self.stop()
