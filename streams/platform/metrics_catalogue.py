"""Factories for the shared series of docs/metrics.md (the catalogue), one place for names and buckets.

Every process builds the catalogue series it emits from here, against its own injected
``CollectorRegistry``, so names, label sets and buckets cannot drift between components
(the Grafana dashboard and the alert rules query exactly these).  Component-specific
series (``callassist_<component>_…``) stay in each component's metrics module.

prometheus_client appends ``_total`` to counters itself: a counter created here as
``callassist_errors`` is exposed as ``callassist_errors_total``.
"""

from __future__ import annotations

import weakref
from importlib import metadata
from typing import ClassVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: docs/metrics.md: latency buckets, with bounds at the 0.2 s, 1.5 s and 3 s targets
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30)
#: docs/metrics.md: buckets of callassist_asr_realtime_factor
RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5)

#: every process; ``recordings`` is the QA recording sink (``callassist recordings``)
COMPONENTS = ("ingest", "asr", "emotion", "streams", "ui", "recordings")
ERROR_KINDS = ("broker", "malformed_record", "bad_input", "model", "storage", "websocket", "internal")
DROP_REASONS = ("duplicate", "out_of_order", "malformed", "oversize", "backpressure", "late", "broker")
CHANNELS = ("agent", "customer")


def version() -> str:
    try:
        return metadata.version("callassist")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


class SharedSeries:
    """The families docs/metrics.md promises on every process, created once per registry.

    A process's component metrics and its bootstrap (:func:`streams.platform.service.run_service`)
    both ask for them with :meth:`of`; whoever comes first creates them, so neither registers a
    name twice and no process can forget one.  :meth:`install` pre-creates a component's
    children at 0: a series that appears only on its first increment hides that increment from
    ``rate()``, and a family a process never touches (``audio_seconds`` in the UI) still exists.
    """

    _by_registry: ClassVar[weakref.WeakKeyDictionary[CollectorRegistry, SharedSeries]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.build_info = Gauge("callassist_build_info", "Always 1; the running version", ["component", "version"],
                                registry=r)
        self.errors = Counter("callassist_errors", "Errors handled (logged, counted, work skipped or retried), by kind",
                              ["component", "kind"], registry=r)
        self.active_calls = Gauge("callassist_active_calls", "Calls this process holds now", ["component"], registry=r)
        self.audio_seconds = Counter("callassist_audio_seconds", "Seconds of audio", ["channel"], registry=r)
        self.frames_dropped = Counter("callassist_frames_dropped", "Audio frames not used, by reason", ["reason"],
                                      registry=r)
        # children (one per consumed topic) come from streams.platform.lag.ConsumerLag
        self.consumer_lag = Gauge(
            "callassist_consumer_lag",
            "Records behind the high watermark, summed over the partitions this process is assigned",
            ["topic"],
            registry=r,
        )

    @classmethod
    def of(cls, registry: CollectorRegistry) -> SharedSeries:
        found = cls._by_registry.get(registry)
        if found is None:
            found = cls._by_registry[registry] = cls(registry)
        return found

    def install(self, component: str) -> SharedSeries:
        """Every child of ``component`` at its start value (build_info 1, everything else 0)."""
        _check(component, COMPONENTS, "component")
        self.build_info.labels(component, version()).set(1)
        for kind in ERROR_KINDS:
            self.errors.labels(component, kind)
        self.active_calls.labels(component)
        for channel in CHANNELS:
            self.audio_seconds.labels(channel)
        for reason in DROP_REASONS:
            self.frames_dropped.labels(reason)
        return self


def install_shared_series(registry: CollectorRegistry, component: str) -> SharedSeries:
    """The shared series of ``component`` on ``registry`` (idempotent)."""
    return SharedSeries.of(registry).install(component)


def build_info(registry: CollectorRegistry, component: str) -> Gauge:
    """``callassist_build_info{component,version}`` = 1."""
    return install_shared_series(registry, component).build_info


class Errors:
    """``callassist_errors_total{component,kind}``; ``errors.inc("broker")``.

    Every documented kind is created at 0 so ``rate()`` and ``increase()`` work from the
    first scrape (a series that appears only on the first error hides that first error).
    """

    def __init__(self, registry: CollectorRegistry, component: str) -> None:
        self.counter = install_shared_series(registry, component).errors
        self._by_kind = {k: self.counter.labels(component, k) for k in ERROR_KINDS}

    def inc(self, kind: str, n: float = 1) -> None:
        # an undocumented kind would be an unbounded label in the making: fold it into internal
        self._by_kind.get(kind, self._by_kind["internal"]).inc(n)


def active_calls(registry: CollectorRegistry, component: str) -> Gauge:
    """``callassist_active_calls{component}`` (the child for ``component``)."""
    return install_shared_series(registry, component).active_calls.labels(component)


def websocket_clients(registry: CollectorRegistry) -> Gauge:
    """``callassist_websocket_clients{role}`` (audio, agent, supervisor, qa)."""
    return Gauge("callassist_websocket_clients", "Open websocket connections", ["role"], registry=registry)


def audio_seconds(registry: CollectorRegistry) -> Counter:
    """``callassist_audio_seconds_total{channel}``."""
    return SharedSeries.of(registry).audio_seconds


def frames_dropped(registry: CollectorRegistry) -> Counter:
    """``callassist_frames_dropped_total{reason}``."""
    return SharedSeries.of(registry).frames_dropped


def latency(registry: CollectorRegistry, name: str, doc: str, labels: tuple[str, ...] = ()) -> Histogram:
    """A catalogue latency histogram (``*_seconds``) with the catalogue buckets."""
    if not name.endswith("_seconds"):
        raise ValueError(f"{name}: latency histograms are named *_seconds")
    return Histogram(name, doc, list(labels), buckets=LATENCY_BUCKETS, registry=registry)


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not one of {', '.join(allowed)} (docs/metrics.md)")
