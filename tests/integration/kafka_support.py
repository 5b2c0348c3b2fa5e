"""Helpers for tests that look inside Apache Kafka: topic configs and partition layout."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from streams.platform.settings import CommonSettings


async def _admin(settings: CommonSettings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers())
    await admin.start()
    return admin


async def topic_config(settings: CommonSettings, topic: str) -> dict[str, str]:
    """Every config of ``topic`` as the broker reports it (defaults included)."""
    admin = await _admin(settings)
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    configs: dict[str, str] = {}
    for response in responses:
        for resource in response.resources:
            for entry in resource[4]:  # (name, value, read_only, ...)
                configs[entry[0]] = entry[1]
    return configs


async def topic_layout(settings: CommonSettings, topic: str) -> dict[int, dict[str, Any]]:
    """partition -> {"leader": node id, "replicas": [...], "isr": [...]}.

    Retried: the admin client asks any bootstrap node, which may be the one a test just killed.
    """
    for attempt in range(20):
        try:
            admin = await _admin(settings)
            try:
                described = await admin.describe_topics([topic])
            finally:
                await admin.close()
            break
        except KafkaError:
            if attempt == 19:
                raise
            await asyncio.sleep(0.5)
    return {
        p["partition"]: {"leader": p["leader"], "replicas": list(p["replicas"]), "isr": list(p["isr"])}
        for p in described[0]["partitions"]
    }
