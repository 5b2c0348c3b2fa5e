"""Prometheus metrics of ``callassist streams`` (injected registry; bounded labels, never call_id).

Catalogue series (docs/metrics.md) come from :mod:`streams.platform.metrics_catalogue`; the
``callassist_streams_*`` series add the worker's own detail.  Faust's own sensor
(``callassist_faust_*``) is installed on the same registry by :func:`streams.worker.faust_app.make_app`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from streams.platform import metrics_catalogue as cat
from streams.platform.observability import malformed_counter

COMPONENT = "streams"
_PROCESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)


class StreamsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        # -- catalogue series -------------------------------------------------------------
        cat.build_info(r, COMPONENT)
        self.errors = cat.Errors(r, COMPONENT)
        self.active_calls = cat.active_calls(r, COMPONENT)
        self.malformed = malformed_counter(r)  # label: the topic name
        self.to_alert = cat.latency(
            r, "callassist_transcript_to_alert_seconds",
            "Transcript record produced -> the compliance alert it triggered produced",
        )
        self.to_suggestion = cat.latency(
            r, "callassist_transcript_to_suggestion_seconds",
            "Transcript record produced -> the suggestion it triggered produced",
        )
        # -- the worker's own detail --------------------------------------------------------
        self.records = Counter(
            "callassist_streams_records_total", "Input records by kind and outcome",
            ["kind", "outcome"], registry=r,
        )
        self.alerts = Counter(
            "callassist_streams_alerts_total", "Compliance alerts produced", ["severity", "rule_kind"], registry=r,
        )
        self.suggestions = Counter(
            "callassist_streams_suggestions_total", "Suggestions produced", ["kind"], registry=r
        )
        self.summaries = Counter("callassist_streams_call_summaries_total", "CallSummary records", registry=r)
        self.process = Histogram(
            "callassist_streams_process_seconds", "Assist pipeline time per input record", ["kind"],
            buckets=_PROCESS_BUCKETS, registry=r,
        )
        self.reloads = Counter(
            "callassist_streams_reloads_total", "KB / rule file reloads", ["file", "outcome"], registry=r
        )
        self.calls = Gauge(
            "callassist_streams_calls", "Calls held in this worker's state table (ended ones included)", registry=r
        )
        self.files = Info("callassist_streams_files", "Versions of the KB and rule files in use", registry=r)


def active_call_count(states: Iterable[Any]) -> int:
    """Calls started and not ended among CallState dicts (table values; None = tombstone)."""
    return sum(1 for d in states if isinstance(d, dict) and d.get("started_at") and not d.get("ended"))
