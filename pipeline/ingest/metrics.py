"""Prometheus metrics of the ingest gateway (injected registry; bounded labels, never call_id).

Names, labels and buckets of the shared series follow docs/metrics.md (the catalogue the
dashboard and alerts query); ``callassist_ingest_*`` series add the gateway's own detail.
"""

from __future__ import annotations

import logging
import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.platform import metrics_catalogue as cat

COMPONENT = "ingest"
LATENCY_BUCKETS = cat.LATENCY_BUCKETS

#: protocol error code -> catalogue errors_total kind / frames_dropped reason
_DROP_REASON = {"oversize": "oversize", "backpressure": "backpressure", "broker": "broker"}


def drop_reason(code: str) -> str:
    """Catalogue ``reason`` for a dropped frame: rejected audio is ``malformed`` unless oversize."""
    return _DROP_REASON.get(code, "malformed")


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # -- catalogue series (docs/metrics.md), built by the shared factories -------------
        cat.build_info(r, COMPONENT)
        self._errors = cat.Errors(r, COMPONENT)
        self.active_calls = cat.active_calls(r, COMPONENT)
        self.connections = cat.websocket_clients(r).labels("audio")
        self.audio_seconds = cat.audio_seconds(r)  # accepted and acknowledged by the broker
        self.dropped_frames = cat.frames_dropped(r)
        # -- the gateway's own detail ----------------------------------------------------
        self.frames_in = Counter(
            "callassist_ingest_frames_in", "Audio messages accepted from clients", ["source"], registry=r
        )
        self.bytes_in = Counter(
            "callassist_ingest_bytes_in", "Audio payload bytes accepted from clients", ["source"], registry=r
        )
        self.frames_out = Counter(
            "callassist_ingest_frames_out", "calls.audio records acknowledged by the broker", registry=r
        )
        self.events_out = Counter(
            "callassist_ingest_events_out",
            "calls.events records acknowledged by the broker",
            ["kind"],
            registry=r,
        )
        self.gap_fill_seconds = Counter(
            "callassist_ingest_gap_fill_seconds", "Silence inserted for Twilio timestamp gaps (seconds)", registry=r
        )
        self.gap_fill_capped = Counter(
            "callassist_ingest_gap_fill_capped",
            "Twilio gaps filled with less silence than asked (per-gap, per-call or wall-clock cap)",
            registry=r,
        )
        self.protocol_errors = Counter(
            "callassist_ingest_protocol_errors",
            "Errors sent to clients, by protocol error code (docs/ingest.md)",
            ["code"],
            registry=r,
        )
        self.calls_ended = Counter(
            "callassist_ingest_calls_ended", "Calls ended, by reason", ["reason"], registry=r
        )
        self.buffer_bytes = Gauge(
            "callassist_ingest_buffer_bytes", "Bytes of records waiting for the producer", registry=r
        )
        self.produce_lag = Histogram(
            "callassist_ingest_produce_lag_seconds",
            "From the last sample of a frame received to the broker's acknowledgement",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def error(self, kind: str) -> None:
        """Catalogue error kinds: bad_input, broker, websocket, internal."""
        self._errors.inc(kind)

    def client_error(self, code: str, dropped_audio: bool) -> None:
        self.protocol_errors.labels(code).inc()
        self.error("bad_input")
        if dropped_audio:
            self.dropped_frames.labels(drop_reason(code)).inc()


#: reasons CallEvent.reason may carry that are also metric labels (others are folded to "other")
END_REASONS = ("hangup", "client_disconnected", "protocol_error", "idle_timeout", "server_shutdown", "server_error")


def end_reason_label(reason: str) -> str:
    return reason if reason in END_REASONS else "other"


class RateLimitedLog:
    """Log a repeated warning at most once per ``interval`` seconds, with the count suppressed.

    A slow broker can drop thousands of frames a second; every one is counted in a metric,
    and the log says so without drowning everything else.
    """

    def __init__(self, logger: logging.Logger, interval: float = 5.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        n = self._suppressed.pop(key, 0)
        self._last[key] = now
        suffix = f" (+{n} similar in the last {self.interval:.0f} s)" if n else ""
        self.logger.warning(msg + suffix, *args)
