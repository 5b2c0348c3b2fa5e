"""callassist_consumer_lag from a real aiokafka consumer on the real embedded broker."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import CollectorRegistry

from streams.platform.kafka_clients import ensure_topics, make_consumer, make_producer, start_client
from streams.platform.lag import ConsumerLag, stop
from streams.platform.settings import CommonSettings

pytestmark = [pytest.mark.integration, pytest.mark.both_brokers]


async def test_lag_counts_records_not_yet_handed_to_the_worker(broker_settings: CommonSettings) -> None:
    s = broker_settings
    await ensure_topics(s, [s.topic_audio, s.topic_events])
    producer = make_producer(s, linger_ms=20)
    await start_client(producer, s)
    try:
        # one multi-record batch per key: the embedded broker's ListOffsets is wrong for those,
        # the fetch high watermark is right (design.md) - the sampler must use the latter
        futs = [await producer.send(s.topic_audio, b"x" * 100, key=b"call-1") for _ in range(30)]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()

    registry = CollectorRegistry()
    consumer = make_consumer(s, f"lag-{uuid.uuid4().hex[:6]}", s.topic_audio, s.topic_events)
    await start_client(consumer, s)
    lag = ConsumerLag(registry, [s.topic_audio, s.topic_events], interval_s=0.1)
    task = lag.start_aiokafka(consumer)
    try:
        got = 0

        async def take(upto: int) -> None:  # hand records to "the worker"; bounded: never hang CI
            nonlocal got
            deadline = asyncio.get_running_loop().time() + 30
            while got < upto:
                if asyncio.get_running_loop().time() > deadline:
                    where = {str(tp): (await consumer.position(tp), consumer.highwater(tp))
                             for tp in consumer.assignment()}
                    pytest.fail(f"only {got} of {upto} records in 30 s; (position, high watermark): {where}")
                batch = await consumer.getmany(timeout_ms=1000, max_records=upto - got)
                got += sum(len(v) for v in batch.values())

        await take(10)  # leave the other 20 waiting

        async def value(topic: str) -> float | None:
            await asyncio.sleep(0.3)
            return registry.get_sample_value("callassist_consumer_lag", {"topic": topic})

        assert await value(s.topic_audio) == 20
        assert await value(s.topic_events) == 0  # assigned, empty
        await take(30)
        assert await value(s.topic_audio) == 0
    finally:
        await stop(task)
        await consumer.stop()
