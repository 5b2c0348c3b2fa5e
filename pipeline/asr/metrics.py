"""Prometheus metrics of the ASR worker (docs/metrics.md; injectable registry; no per-call labels).

Catalogue series come from :mod:`streams.platform.metrics_catalogue` (names and buckets shared with
the dashboard and alert rules); ``callassist_asr_*`` series are this component's own.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from streams.platform import metrics_catalogue as cat
from streams.platform.observability import malformed_counter

COMPONENT = "asr"


class AsrMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else CollectorRegistry()
        self.registry = r
        # -- catalogue (docs/metrics.md) ----------------------------------------------------
        self.build_info = cat.build_info(r, COMPONENT)
        self.errors = cat.Errors(r, COMPONENT)
        self.malformed = malformed_counter(r)  # callassist_records_malformed_total{topic}
        self.active_calls = cat.active_calls(r, COMPONENT)
        self.audio_seconds = cat.audio_seconds(r)  # {channel}, consumed
        self.frames_dropped = cat.frames_dropped(r)  # {reason}
        self.realtime_factor = Histogram(
            "callassist_asr_realtime_factor",
            "Per model call: decode wall time / seconds of audio decoded",
            buckets=cat.RTF_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("callassist_asr_queue_depth", "Utterances waiting to be decoded", registry=r)
        self.word_latency = cat.latency(
            r,
            "callassist_word_to_transcript_seconds",
            "Capture time of the audio at a segment's last word -> transcript record produced",
            ("kind",),
        )
        # -- component-specific ---------------------------------------------------------------
        self.segments = Counter(
            "callassist_asr_segments", "Transcript records produced", ["kind"], registry=r
        )
        self.dropped = Counter(
            "callassist_asr_dropped_texts", "Decoded texts discarded by a filter", ["reason"], registry=r
        )
        self.decode_seconds = Histogram(
            "callassist_asr_decode_seconds",
            "Wall time of one model call",
            ["kind"],
            buckets=(0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8),
            registry=r,
        )
        self.batch_size = Histogram(
            "callassist_asr_batch_size", "Jobs per model call", buckets=(1, 2, 4, 8, 16, 32), registry=r
        )
        self.buffered_seconds = Gauge(
            "callassist_asr_buffered_audio_seconds", "Audio held in memory (all streams)", registry=r
        )
        self.languages = Counter(
            "callassist_asr_language_fixed", "Call languages fixed", ["language", "source"], registry=r
        )
        self.checkpoints = Counter(
            "callassist_asr_checkpoints", "Checkpoints written (then offsets committed)", registry=r
        )

    def bad_record(self, topic: str) -> None:
        self.malformed.labels(topic).inc()
        self.errors.inc("malformed_record")
