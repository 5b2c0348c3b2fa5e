"""What callassist sets up on Apache Kafka (and not on Tansu): topics as configured, a compacted
``qa.calls``, idempotent producers for audio and outputs, Faust's compacted table changelogs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kafka_support import topic_config, topic_layout

from streams.platform.broker import EmbeddedBroker
from streams.platform.kafka_broker import KafkaCluster
from streams.platform.kafka_clients import ensure_topics, make_producer, start_client
from streams.platform.settings import CommonSettings
from streams.worker.faust_app import make_app
from streams.worker.faust_fixes import IdempotentProducer

pytestmark = pytest.mark.integration


def _settings(kafka_broker: KafkaCluster, tmp_path: Path) -> CommonSettings:
    base = CommonSettings()
    suffix = uuid.uuid4().hex[:8]
    topics = {n: f"{getattr(base, n)}.{suffix}" for n in CommonSettings.model_fields if n.startswith("topic_")}
    return CommonSettings(broker_url=kafka_broker.url, partitions=3, data_dir=tmp_path, **topics)


async def test_topics_are_created_as_configured_and_qa_calls_is_compacted(
    kafka_broker: KafkaCluster, tmp_path: Path
) -> None:
    settings = _settings(kafka_broker, tmp_path)
    created = await ensure_topics(settings)
    assert sorted(created) == sorted(settings.all_topics())
    for topic in settings.all_topics():
        layout = await topic_layout(settings, topic)
        assert sorted(layout) == [0, 1, 2] and all(len(p["replicas"]) == 1 for p in layout.values())
    assert (await topic_config(settings, settings.topic_qa_calls))["cleanup.policy"] == "compact"
    assert (await topic_config(settings, settings.topic_audio))["cleanup.policy"] == "delete"


async def test_producers_are_idempotent_on_kafka_only(
    kafka_broker: KafkaCluster, embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = _settings(kafka_broker, tmp_path)
    await ensure_topics(settings, [settings.topic_audio])
    producer = make_producer(settings)
    await start_client(producer, settings)
    try:
        await producer.send_and_wait(settings.topic_audio, b"frame", key=b"call-1")
        txn = producer._txn_manager
        assert txn is not None and txn.producer_id >= 0, "the broker gave the producer no producer id"
    finally:
        await producer.stop()
    tansu = settings.model_copy(update={"broker_url": embedded_broker.url, "broker_embedded": True})
    assert make_producer(tansu)._txn_manager is None  # Tansu has no idempotent producer


def test_faust_outputs_are_idempotent_on_kafka(
    kafka_broker: KafkaCluster, embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = _settings(kafka_broker, tmp_path)
    app = make_app(settings, f"idem-{uuid.uuid4().hex[:6]}")
    assert isinstance(app.producer, IdempotentProducer)
    extra = app.producer._settings_extra()
    assert extra["enable_idempotence"] is True and extra["acks"] == "all"
    tansu = settings.model_copy(update={"broker_url": embedded_broker.url, "broker_embedded": True})
    tansu_app = make_app(tansu, f"idem-{uuid.uuid4().hex[:6]}")
    assert not isinstance(tansu_app.producer, IdempotentProducer)
