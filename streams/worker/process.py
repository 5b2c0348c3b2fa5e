"""``callassist streams [run]``: the Faust worker under :func:`streams.platform.service.run_service`.

Faust runs its own worker loop: ``faust.Worker.execute_from_commandline()`` owns the event
loop, installs its SIGINT/SIGTERM handlers and drains itself (agents, tables, commits).  So
this is a :class:`~streams.platform.service.BlockingService`: run_service gives it what every
process gets (the injected registry with the shared series, /metrics /healthz /readyz, the
exit code, stop after a failure) and leaves the loop and the signals to Faust.
"""

from __future__ import annotations

import asyncio

import faust
from prometheus_client import CollectorRegistry

from streams.platform.stream_settings import StreamsSettings
from streams.worker.agents import StreamsWorker


class StreamsProcess:
    def __init__(self, settings: StreamsSettings, registry: CollectorRegistry) -> None:
        self.settings = settings
        self.worker = StreamsWorker(settings, registry)

    def ready(self) -> bool:
        return self.worker.is_ready()

    def start(self) -> None:
        """Load jieba, the KB and the rules, and create the topics (before Faust takes the loop)."""
        from streams.platform.kafka_clients import ensure_topics

        self.worker.load()
        if self.settings.create_topics:
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(ensure_topics(self.settings))
            finally:
                loop.close()
            asyncio.set_event_loop(asyncio.new_event_loop())  # a fresh loop for Faust

    def run(self) -> int:
        s = self.settings
        try:
            faust.Worker(self.worker.app, loglevel=s.log_level.lower(), override_logging=False).execute_from_commandline()
        except SystemExit as exc:  # Faust ends its worker with sys.exit(code)
            return int(exc.code or 0)
        return 0

    def stop(self) -> None:
        return None  # Faust stopped the app (consumer, producer, tables) on its way out of run()


def run_worker(settings: StreamsSettings | None = None) -> int:
    """Load, create topics, serve /metrics, run the Faust worker until stopped; the exit code."""
    from streams.platform.service import run_service

    s = settings or StreamsSettings()
    s.bootstrap_servers()  # fail now, with the clear message, when no broker is configured
    return run_service(
        lambda registry: StreamsProcess(s, registry),
        component="streams",
        metrics_host=s.metrics_host,
        metrics_port=s.metrics_port,
    )
