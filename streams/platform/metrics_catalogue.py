"""Factories for the shared series of docs/metrics.md (the catalogue), one place for names and buckets.

Every process builds the catalogue series it emits from here, against its own injected
``CollectorRegistry``, so names, label sets and buckets cannot drift between components
(the Grafana dashboard and the alert rules query exactly these).  Component-specific
series (``callassist_<component>_…``) stay in each component's metrics module.

prometheus_client appends ``_total`` to counters itself: a counter created here as
``callassist_errors`` is exposed as ``callassist_errors_total``.
"""

from __future__ import annotations

from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: docs/metrics.md: latency buckets, with bounds at the 0.2 s, 1.5 s and 3 s targets
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)
#: docs/metrics.md: buckets of callassist_asr_realtime_factor
RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5)

COMPONENTS = ("ingest", "asr", "emotion", "streams", "ui")
ERROR_KINDS = ("broker", "malformed_record", "bad_input", "model", "storage", "websocket", "internal")
DROP_REASONS = ("duplicate", "out_of_order", "malformed", "oversize", "backpressure", "late", "broker")


def version() -> str:
    try:
        return metadata.version("callassist")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


def build_info(registry: CollectorRegistry, component: str) -> Gauge:
    """``callassist_build_info{component,version}`` = 1."""
    _check(component, COMPONENTS, "component")
    g = Gauge("callassist_build_info", "Always 1; the running version", ["component", "version"], registry=registry)
    g.labels(component, version()).set(1)
    return g


class Errors:
    """``callassist_errors_total{component,kind}``; ``errors.inc("broker")``.

    Every documented kind is created at 0 so ``rate()`` and ``increase()`` work from the
    first scrape (a series that appears only on the first error hides that first error).
    """

    def __init__(self, registry: CollectorRegistry, component: str) -> None:
        _check(component, COMPONENTS, "component")
        self.counter = Counter(
            "callassist_errors", "Errors handled (logged, counted, work skipped or retried), by kind",
            ["component", "kind"], registry=registry,
        )
        self._by_kind = {k: self.counter.labels(component, k) for k in ERROR_KINDS}

    def inc(self, kind: str, n: float = 1) -> None:
        # an undocumented kind would be an unbounded label in the making: fold it into internal
        self._by_kind.get(kind, self._by_kind["internal"]).inc(n)


def active_calls(registry: CollectorRegistry, component: str) -> Gauge:
    """``callassist_active_calls{component}`` (the child for ``component``)."""
    _check(component, COMPONENTS, "component")
    return Gauge("callassist_active_calls", "Calls this process holds now", ["component"], registry=registry).labels(
        component
    )


def websocket_clients(registry: CollectorRegistry) -> Gauge:
    """``callassist_websocket_clients{role}`` (audio, agent, supervisor, qa)."""
    return Gauge("callassist_websocket_clients", "Open websocket connections", ["role"], registry=registry)


def audio_seconds(registry: CollectorRegistry) -> Counter:
    """``callassist_audio_seconds_total{channel}``."""
    return Counter("callassist_audio_seconds", "Seconds of audio", ["channel"], registry=registry)


def frames_dropped(registry: CollectorRegistry) -> Counter:
    """``callassist_frames_dropped_total{reason}``."""
    return Counter("callassist_frames_dropped", "Audio frames not used, by reason", ["reason"], registry=registry)


def latency(registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = ()) -> Histogram:
    """A catalogue latency histogram (``*_seconds``) with the catalogue buckets."""
    if not name.endswith("_seconds"):
        raise ValueError(f"{name}: latency histograms are named *_seconds")
    return Histogram(name, doc, list(labels), buckets=LATENCY_BUCKETS, registry=registry)


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)} (docs/metrics.md)")
