"""Faust app factory: one place where a Faust worker is configured from settings.

Agents consume raw bytes (``value_serializer='raw'``) and decode with
:func:`streams.contract.codec.decode`, so a malformed record is logged, counted and skipped
instead of killing the stream inside Faust's deserialiser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from prometheus_client import CollectorRegistry

from streams.platform import aiokafka_fixes
from streams.platform.settings import CommonSettings
from streams.worker import embedded_faust
from streams.worker.faust_fixes import CallassistApp

aiokafka_fixes.apply()  # Faust's consumers stop through the same aiokafka Fetcher


def make_app(
    settings: CommonSettings,
    app_id: str,
    registry: CollectorRegistry | None = None,
    **overrides: Any,
) -> faust.App:
    """A Faust app on the configured broker, with in-memory tables backed by changelog topics.

    ``registry``: where Faust's Prometheus sensor records (served by streams.platform.observability).
    """
    conf: dict[str, Any] = {
        "broker": settings.faust_broker(),
        "value_serializer": "raw",
        "key_serializer": "raw",
        "store": "memory://",
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": settings.session_timeout_s,
        "broker_heartbeat_interval": settings.heartbeat_interval_s,
        "broker_request_timeout": max(settings.session_timeout_s * 2, 40.0),
        "producer_max_request_size": settings.max_message_bytes,
        "datadir": str(settings.data_dir / "faust" / app_id),
        "web_enabled": False,  # metrics/health are served by streams.platform.observability
        "stream_wait_empty": False,
    }
    if settings.broker_embedded:
        embedded_faust.apply(settings.bootstrap_servers())
        conf.update(embedded_faust.faust_overrides())
    conf.update(overrides)
    Path(conf["datadir"]).mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    # Faust's recovery can lose stream records at the hand-over: CallassistApp fixes it (streams.worker.faust_fixes)
    idempotent = settings.producer_idempotence and not settings.broker_embedded
    app = CallassistApp(app_id, idempotent_producer=idempotent, **conf)
    if registry is not None:
        prefix = "callassist_faust"
        app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(registry, prefix))
    return app
