"""Wiring of the gateway process: producer + bounded sink + websocket server (+ /metrics).

Start order: producer (fail fast with a clear error if the broker is unreachable), topics,
sink, server.  Stop order is the reverse, so every open call's ``ended`` event and buffered
audio reach the broker before the producer stops.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from prometheus_client import CollectorRegistry

from pipeline.ingest.admission import CallRegistry
from pipeline.ingest.metrics import IngestMetrics
from pipeline.ingest.server import IngestGateway, check_auth_config
from pipeline.ingest.settings import IngestSettings
from pipeline.ingest.sink import KafkaSink
from streams.platform.kafka_clients import ensure_topics, make_producer, start_client

log = logging.getLogger(__name__)


async def start_sink(settings: IngestSettings, metrics: IngestMetrics) -> tuple[Any, KafkaSink]:
    """A started producer and a running :class:`KafkaSink` on it (also used by replay --kafka)."""
    if settings.create_topics:
        await ensure_topics(settings, [settings.topic_audio, settings.topic_events])
    # a frame waits this long for the broker before it is given up (and counted): rides out a restart
    producer = make_producer(settings, linger_ms=settings.ingest_linger_ms,
                             request_timeout_ms=int(settings.ingest_delivery_timeout_s * 1000))
    await start_client(producer, settings)
    sink = KafkaSink(
        producer,
        audio_topic=settings.topic_audio,
        events_topic=settings.topic_events,
        metrics=metrics,
        buffer_bytes=settings.ingest_buffer_bytes,
        enqueue_timeout_s=settings.ingest_enqueue_timeout_s,
    )
    sink.start()
    return producer, sink


async def stop_sink(producer: Any, sink: KafkaSink, drain_s: float) -> None:
    await sink.close(drain_s=drain_s)
    try:  # stop() flushes; with the broker gone it would wait for the full request timeout
        await asyncio.wait_for(producer.stop(), drain_s)
    except TimeoutError:
        log.error("shutdown: the producer did not stop within %.0f s (broker unreachable?)", drain_s)


class IngestService:
    """The running gateway: ``async with IngestService(settings) as svc: ...`` (svc.url)."""

    def __init__(
        self,
        settings: IngestSettings,
        registry: CollectorRegistry | None = None,
        calls: CallRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = IngestMetrics(registry)
        self.calls = calls
        self.producer: Any = None
        self.sink: KafkaSink | None = None
        self.gateway: IngestGateway | None = None
        self._stop_asked = asyncio.Event()

    @property
    def url(self) -> str:
        assert self.gateway is not None
        host = self.settings.ingest_host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"ws://{host}:{self.gateway.port}/calls"

    def ready(self) -> bool:
        return self.gateway is not None and self.gateway.server is not None and not self.gateway.shutting_down

    async def start(self) -> IngestService:
        check_auth_config(self.settings)  # before touching the broker: a config error is the clearer message
        self.producer, self.sink = await start_sink(self.settings, self.metrics)
        try:
            self.gateway = IngestGateway(self.settings, self.sink, self.metrics, self.calls)
            await self.gateway.start()
        except BaseException:
            await stop_sink(self.producer, self.sink, 1.0)
            raise
        return self

    async def run(self) -> None:
        """Serve until :meth:`request_stop` (the gateway's connections run on their own tasks)."""
        await self._stop_asked.wait()

    def request_stop(self) -> None:
        log.info("shutting down: ending open calls")
        self._stop_asked.set()

    async def stop(self) -> None:
        timeout = self.settings.ingest_drain_timeout_s
        if self.gateway is not None:
            try:
                await asyncio.wait_for(self.gateway.stop(), timeout)
            except TimeoutError:
                log.error("shutdown: connections did not finish within %.0f s (broker down?)", timeout)
        if self.sink is not None:
            await stop_sink(self.producer, self.sink, timeout)
            self.sink = None

    async def __aenter__(self) -> IngestService:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
