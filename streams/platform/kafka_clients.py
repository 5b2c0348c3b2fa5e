"""aiokafka clients built from settings: the one place producers, consumers and topics are made.

Audio is consumed with aiokafka directly (bulk bytes, manual commit): a Faust agent is an
order of magnitude slower on 32 KB records (design.md).  The embedded-broker workarounds
are applied here, and only when ``settings.broker_embedded`` is set.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from streams.platform import aiokafka_fixes, embedded_quirks
from streams.platform.settings import CommonSettings

log = logging.getLogger(__name__)
aiokafka_fixes.apply()


class BrokerUnavailable(RuntimeError):
    """The configured Kafka broker could not be reached in time."""


def _common(settings: CommonSettings) -> dict[str, Any]:
    if settings.broker_embedded:
        embedded_quirks.apply(settings.bootstrap_servers())
    return {
        "bootstrap_servers": settings.bootstrap_servers(),
        "request_timeout_ms": max(int(settings.session_timeout_s * 1000) + 5000, 15000),
        "retry_backoff_ms": 100,
        "metadata_max_age_ms": 30000,
    }


def make_producer(settings: CommonSettings, **overrides: Any) -> AIOKafkaProducer:
    """A producer for callassist records (keys and values are bytes).

    ``acks='all'`` so a produced record survives a broker failover in production;
    ``linger_ms`` lets audio frames of many calls share one request (batching).  On Apache
    Kafka the producer is idempotent (``producer_idempotence``): a retry after a lost ack or a
    leader change writes no duplicate and keeps order.  Tansu has no idempotent producer.
    """
    kwargs: dict[str, Any] = {
        **_common(settings),
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "max_request_size": settings.max_message_bytes,
        "compression_type": None,
    }
    if settings.producer_idempotence and not settings.broker_embedded:
        kwargs["enable_idempotence"] = True
    kwargs.update(overrides)
    return AIOKafkaProducer(**kwargs)


def topic_configs(settings: CommonSettings, topic: str) -> dict[str, str]:
    """Kafka topic configs for a topic callassist creates (none on the embedded broker: no compaction).

    ``qa.calls`` holds the latest summary per call (key = call_id): compacted, so it keeps every
    call and not every revision.  ``min.insync.replicas`` when configured (production: 2 of RF 3).
    """
    if settings.broker_embedded:
        return {}
    configs: dict[str, str] = {}
    if topic == settings.topic_qa_calls:
        configs["cleanup.policy"] = "compact"
    if settings.min_insync_replicas:
        configs["min.insync.replicas"] = str(settings.min_insync_replicas)
    return configs


def make_consumer(settings: CommonSettings, group_id: str | None, *topics: str, **overrides: Any) -> AIOKafkaConsumer:
    """A consumer with manual commits (commit only after outputs are produced: at-least-once)."""
    kwargs: dict[str, Any] = {
        **_common(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": int(settings.session_timeout_s * 1000),
        "heartbeat_interval_ms": int(settings.heartbeat_interval_s * 1000),
        "max_partition_fetch_bytes": max(settings.max_message_bytes, 1_048_576),
        "fetch_max_wait_ms": 200,
    }
    if settings.broker_embedded:
        kwargs.update(embedded_quirks.consumer_overrides())
    kwargs.update(overrides)
    return AIOKafkaConsumer(*topics, **kwargs)


async def start_client(client: AIOKafkaProducer | AIOKafkaConsumer | AIOKafkaAdminClient, settings: CommonSettings) -> None:
    """Start a client, failing with a clear error within broker_connect_timeout_s (never hang)."""
    try:
        await asyncio.wait_for(client.start(), timeout=settings.broker_connect_timeout_s)
    except (TimeoutError, KafkaError, OSError) as exc:
        with _suppress_all():
            await asyncio.wait_for(client.stop() if not isinstance(client, AIOKafkaAdminClient) else client.close(), 2)
        raise BrokerUnavailable(
            f"cannot reach the Kafka broker at {settings.broker_url!r} within "
            f"{settings.broker_connect_timeout_s:.0f} s ({type(exc).__name__}: {exc})"
        ) from exc


class _suppress_all:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> bool:
        return True


async def ensure_topics(
    settings: CommonSettings, topics: Iterable[str] | None = None, partitions: int | None = None
) -> list[str]:
    """Create missing topics with the configured partitions, replication and configs; returns the ones created."""
    wanted = list(topics) if topics is not None else settings.all_topics()
    admin = AIOKafkaAdminClient(**_common(settings))
    await start_client(admin, settings)
    created: list[str] = []
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            new = [
                NewTopic(
                    t,
                    num_partitions=partitions or settings.partitions,
                    replication_factor=settings.replication_factor,
                    topic_configs=topic_configs(settings, t),
                )
                for t in missing
            ]
            try:
                await admin.create_topics(new)
            except TopicAlreadyExistsError:
                pass  # another process won the race
            created = missing
            log.info("created topics %s", ", ".join(missing))
    finally:
        await admin.close()
    return created
