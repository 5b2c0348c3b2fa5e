"""The embedded-broker workarounds for Faust's own consumer (see streams.platform.embedded_quirks).

Faust hard-codes a 1.5 s fetch wait, and Tansu does not wake a waiting fetch when data
arrives (quirk 2), so every hop would wait the full 1.5 s.  The patch caps it at 50 ms, only
for consumers of a broker that :func:`streams.platform.embedded_quirks.apply` registered (so
it is inert on Apache Kafka, and after ``embedded_quirks.revert()``).
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.platform import embedded_quirks


def faust_overrides() -> dict[str, Any]:
    """Faust app settings for the embedded broker (quirk 3; quirk 2 is patched in apply())."""
    return {
        "broker_session_timeout": embedded_quirks.SESSION_TIMEOUT_S,
        "broker_heartbeat_interval": embedded_quirks.HEARTBEAT_INTERVAL_S,
        "broker_rebalance_timeout": embedded_quirks.SESSION_TIMEOUT_S * 2,
    }


def apply(bootstrap: str) -> None:
    """The aiokafka workarounds for ``bootstrap`` plus the Faust fetch-wait cap (idempotent)."""
    embedded_quirks.apply(bootstrap)
    thread_cls = faust_aiokafka.AIOKafkaConsumerThread
    if hasattr(thread_cls._create_worker_consumer, "__wrapped__"):
        return
    original = thread_cls._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        if embedded_quirks.active_for(consumer._client._bootstrap_servers):
            consumer._fetch_max_wait_ms = embedded_quirks.FETCH_MAX_WAIT_MS  # Faust hard-codes 1500 ms
        return consumer

    _create_worker_consumer.__wrapped__ = original  # type: ignore[attr-defined]
    thread_cls._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
