"""Prometheus metrics of ``callassist ui`` (injected registry; bounded labels, never call_id).

The shared series follow docs/metrics.md (the catalogue the dashboard and alerts query) and
are built by :mod:`streams.platform.metrics_catalogue`; ``callassist_ui_*`` series add the server's
own detail.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from streams.platform import metrics_catalogue as cat
from streams.platform.lag import ConsumerLag
from streams.platform.observability import malformed_counter

COMPONENT = "ui"


@dataclass
class RecordTiming:
    """One record's Kafka timestamp, observed once (first client) in record_to_websocket_seconds."""

    topic: str
    kafka_ts: float  # epoch seconds
    done: bool = False


class UiMetrics:
    def __init__(self, registry: CollectorRegistry | None = None, topics: Iterable[str] = ()) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # -- catalogue series (docs/metrics.md) ---------------------------------------------
        cat.build_info(r, COMPONENT)
        self._errors = cat.Errors(r, COMPONENT)
        self.malformed = malformed_counter(r)  # label: the topic name
        self.active_calls = cat.active_calls(r, COMPONENT)
        self.websocket_clients = cat.websocket_clients(r)
        for role in ("agent", "supervisor", "qa"):
            self.websocket_clients.labels(role).set(0)
        self.record_to_websocket = cat.latency(
            r, "callassist_record_to_websocket_seconds",
            "Record's Kafka timestamp -> its websocket send to a client (first client)", ("topic",),
        )
        self.lag = ConsumerLag(r, topics)
        # -- the server's own detail ------------------------------------------------------------
        self.auth_failures = Counter(
            "callassist_ui_auth_failures", "Rejected tokens (socket or API)", ["surface"], registry=r
        )
        self.messages_sent = Counter(
            "callassist_ui_messages_sent", "Messages written to sockets", ["type"], registry=r
        )
        self.clients_dropped = Counter(
            "callassist_ui_clients_dropped", "Sockets closed for falling too far behind", registry=r
        )
        self.update_latency = Histogram(
            "callassist_ui_update_latency_seconds",
            "A record's produced_at (set by the producing worker) -> the update written to a socket",
            ["kind"], buckets=cat.LATENCY_BUCKETS, registry=r,
        )
        self.records = Counter("callassist_ui_records", "Records applied to the live state", ["kind"], registry=r)
        self.records_skipped = Counter(
            "callassist_ui_records_skipped", "Live records not applied", ["reason"], registry=r
        )
        self.sink_calls = Counter(
            "callassist_ui_sink_calls", "qa.calls records handled by the QA sink", ["result"], registry=r
        )
        self.http_requests = Counter(
            "callassist_ui_http_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )

    def error(self, kind: str) -> None:
        """Catalogue error kinds: malformed_record, bad_input, broker, storage, websocket, internal."""
        self._errors.inc(kind)

    def record_malformed(self, topic: str) -> None:
        self.malformed.labels(topic).inc()
        self.error("malformed_record")

    def observe_sent(self, timing: RecordTiming | None) -> None:
        if timing is not None and not timing.done:
            timing.done = True
            self.record_to_websocket.labels(timing.topic).observe(max(0.0, time.time() - timing.kafka_ts))
