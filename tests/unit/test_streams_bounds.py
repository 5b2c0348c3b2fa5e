"""The streams worker bounds the calls it holds (#18 item 9): count bound and O(evicted) expiry."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def worker():
    from streams.platform.stream_settings import StreamsSettings
    from streams.worker.agents import StreamsWorker

    w = StreamsWorker(StreamsSettings(broker_url="kafka://127.0.0.1:9", streams_max_calls=3,
                                      streams_state_retention_s=10, streams_idle_timeout_s=100))
    w.table = {}  # the eviction logic only; the Faust table needs a running app
    return w


def test_calls_held_are_bounded_least_recently_active_first(worker) -> None:
    now = time.time()
    worker._seen[0].clear()
    for i, cid in enumerate(("a", "b", "c", "d")):
        worker._seen[0][cid] = (now - 5 + i, False)
        worker.table[cid] = {"x": 1}
    worker._evict(0)
    assert list(worker._seen[0]) == ["b", "c", "d"] and "a" not in worker.table


def test_expiry_stops_at_the_first_recent_call(worker) -> None:
    now = time.time()
    seen = worker._seen[1]
    seen.clear()
    seen["ended-old"] = (now - 50, True)  # ended 50 s ago: past the 10 s retention
    seen["open-old"] = (now - 50, False)  # silent 50 s: within the 100 s idle timeout
    seen["fresh"] = (now, False)
    worker.table.update({k: {} for k in seen})
    worker._evict(1)
    assert list(seen) == ["open-old", "fresh"] and "ended-old" not in worker.table
