"""Prometheus metrics of the emotion worker (injected registry; bounded labels, never call_id)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.platform import metrics_catalogue as cat
from streams.platform.observability import malformed_counter

COMPONENT = "emotion"


class EmotionMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        # -- catalogue series (docs/metrics.md), shared with every process -------------------
        cat.build_info(r, COMPONENT)
        self.errors = cat.Errors(r, COMPONENT)
        self.calls_now = cat.active_calls(r, COMPONENT)  # callassist_active_calls{component="emotion"}
        self.audio_seconds = cat.audio_seconds(r)  # {channel}, consumed
        self.frames_dropped = cat.frames_dropped(r)  # {reason}
        # -- the worker's own detail ---------------------------------------------------------
        self.records = Counter(
            "callassist_emotion_records",
            "Input records by topic kind and result (ok, duplicate, bad)",
            ["kind", "result"],
            registry=r,
        )
        self.malformed = malformed_counter(r)  # callassist_records_malformed_total{topic}
        self.windows = Counter(
            "callassist_emotion_windows", "Analysis windows by result (voiced, silent)", ["result"], registry=r
        )
        self.readings = Counter(
            "callassist_emotion_readings", "calls.emotion records produced", ["channel", "state"], registry=r
        )
        self.active_calls = Gauge("callassist_emotion_active_calls", "Calls with state in this worker", registry=r)
        self.batch_seconds = Histogram(
            "callassist_emotion_batch_seconds",
            "Wall time to analyse one polled batch (features + model, in the executor)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )
        self.lag_seconds = Histogram(
            "callassist_emotion_lag_seconds",
            "From a frame's capture (ingest) to its emotion reading being produced",
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
            registry=r,
        )
