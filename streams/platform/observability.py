"""/metrics, /healthz and /readyz for every callassist process.

A tiny WSGI server on its own thread: scraping never competes with the event loop, and
every process (aiokafka workers, the Faust worker, the UI) exposes the same endpoints.
Pass the registry in (tests inject a fresh ``CollectorRegistry``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, make_wsgi_app

log = logging.getLogger(__name__)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return  # scrapes every few seconds would flood the log


class MetricsServer:
    """Serves /metrics (Prometheus text), /healthz (alive) and /readyz (ready_check())."""

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str = "127.0.0.1",
        port: int = 0,
        ready_check: Callable[[], bool] | None = None,
    ) -> None:
        self.registry = registry
        self.ready_check = ready_check or (lambda: True)
        self._metrics_app = make_wsgi_app(registry)
        self._server: WSGIServer = make_server(host, port, self._app, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics-http", daemon=True)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        if path == "/readyz":
            try:
                ready = bool(self.ready_check())
            except Exception:  # a failing check means "not ready", never a 500 loop
                log.exception("readiness check failed")
                ready = False
            start_response("200 OK" if ready else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ready\n" if ready else b"not ready\n"]
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_metrics(
    registry: CollectorRegistry, host: str, port: int, ready_check: Callable[[], bool] | None = None
) -> MetricsServer | None:
    """Start the endpoint unless port is 0 (disabled); returns the running server."""
    if not port:
        return None
    server = MetricsServer(registry, host, port, ready_check).start()
    log.info("metrics on http://%s:%d/metrics", host, server.port)
    return server


def malformed_counter(registry: CollectorRegistry) -> Counter:
    """callassist_records_malformed_total{topic}: records that failed to decode and were skipped."""
    return Counter(
        "callassist_records_malformed_total",
        "Records that could not be decoded and were skipped",
        ["topic"],
        registry=registry,
    )
