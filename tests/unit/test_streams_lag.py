"""Consumer lag arithmetic and the catalogue metric factories (pure, no broker)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from streams.platform import metrics_catalogue as cat
from streams.platform.lag import ConsumerLag, lag_by_topic, stop

pytestmark = pytest.mark.unit


def test_lag_sums_partitions_per_topic_and_ignores_unknown_and_foreign_topics():
    lag = lag_by_topic(
        ["calls.audio", "calls.events"],
        [
            ("calls.audio", 100, 40),  # 60 behind
            ("calls.audio", 7, 7),  # caught up
            ("calls.audio", 5, 9),  # stale highwater from an older fetch: never negative
            ("calls.audio", None, 3),  # no fetch response yet
            ("calls.events", 12, None),  # position being reset after a rebalance
            ("app-callstate-changelog", 1000, 0),  # not a catalogue topic: never a label
        ],
    )
    assert lag == {"calls.audio": 60, "calls.events": 0}


def test_every_topic_reads_zero_from_the_first_scrape_and_revoked_topics_go_back_to_zero():
    r = CollectorRegistry()
    lag = ConsumerLag(r, ["calls.audio", "calls.events"])
    assert r.get_sample_value("callassist_consumer_lag", {"topic": "calls.audio"}) == 0
    lag.publish({"calls.audio": 5, "calls.events": 2})
    assert r.get_sample_value("callassist_consumer_lag", {"topic": "calls.events"}) == 2
    lag.publish({"calls.audio": 1})  # calls.events no longer assigned here
    assert r.get_sample_value("callassist_consumer_lag", {"topic": "calls.events"}) == 0


class _FakeFaustConsumer:
    """The three things sample_faust reads from Faust's consumer (a plain data holder)."""

    def __init__(self) -> None:
        from collections import namedtuple

        tp = namedtuple("TP", "topic partition")
        self.tps = [tp("calls.transcripts", 0), tp("calls.transcripts", 1), tp("x-changelog", 0)]
        self._read_offset = {self.tps[0]: 9}  # read offsets 0..9
        self._committed_offset = {self.tps[1]: 4}
        self.hw = {self.tps[0]: 15, self.tps[1]: 6, self.tps[2]: 99}

    def assignment(self):
        return set(self.tps)

    def highwater(self, tp):
        return self.hw[tp]


def test_faust_sample_uses_read_offset_then_committed_offset():
    class App:
        consumer = _FakeFaustConsumer()

    lag = ConsumerLag(CollectorRegistry(), ["calls.transcripts"])
    assert lag.sample_faust(App()) == {"calls.transcripts": (15 - 10) + (6 - 4)}


def test_faust_sample_before_the_consumer_started_is_zero():
    class NotStarted:
        def assignment(self):
            raise RuntimeError("Consumer thread not yet started")

    class App:
        consumer = NotStarted()

    assert ConsumerLag(CollectorRegistry(), ["t"]).sample_faust(App()) == {"t": 0}


def test_catalogue_factories_expose_catalogue_names_and_refuse_unbounded_values():
    r = CollectorRegistry()
    cat.build_info(r, "asr")
    errors = cat.Errors(r, "asr")
    errors.inc("model")
    errors.inc("something-new")  # folded into internal, never a new label value
    cat.latency(r, "callassist_word_to_transcript_seconds", "doc", ("kind",)).labels("final").observe(0.4)
    text = generate_latest(r).decode()
    assert 'callassist_errors_total{component="asr",kind="model"} 1.0' in text
    assert 'callassist_errors_total{component="asr",kind="internal"} 1.0' in text
    assert 'callassist_errors_total{component="asr",kind="broker"} 0.0' in text  # present from the start
    assert 'callassist_word_to_transcript_seconds_bucket{kind="final",le="0.5"} 1.0' in text
    assert 'callassist_build_info{component="asr",version="' in text
    with pytest.raises(ValueError, match="component"):
        cat.active_calls(CollectorRegistry(), "call-123")
    with pytest.raises(ValueError, match="_seconds"):
        cat.latency(CollectorRegistry(), "callassist_latency_ms", "doc")


async def test_a_cancel_that_meets_a_completing_position_still_stops_the_sampler() -> None:
    # on Python 3.11 asyncio.wait_for returned the result and swallowed this cancel: stop() then hung CI
    loop = asyncio.get_running_loop()
    position: asyncio.Future[int] = loop.create_future()

    class Consumer:
        def assignment(self) -> set[TopicPartition]:
            return {TopicPartition("t", 0)}

        def highwater(self, tp: TopicPartition) -> int:
            return 10

        def position(self, tp: TopicPartition) -> asyncio.Future[int]:
            return position

    lag = ConsumerLag(CollectorRegistry(), ["t"], interval_s=0.01)
    task = loop.create_task(lag.run(lambda: lag.sample_aiokafka(Consumer())))
    await asyncio.sleep(0.05)  # the sampler waits on position()
    position.set_result(4)
    task.cancel()  # in the same instant
    await asyncio.wait({task}, timeout=1.0)
    assert task.cancelled()


async def test_stop_ends_a_task_that_swallowed_one_cancellation() -> None:
    async def stubborn() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            pass  # what a library that catches CancelledError does
        await asyncio.sleep(30)

    task = asyncio.get_running_loop().create_task(stubborn())
    await asyncio.sleep(0)
    await asyncio.wait_for(stop(task), 5)
    assert task.done()
