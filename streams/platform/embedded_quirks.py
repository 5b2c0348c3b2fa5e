"""Workarounds for the embedded Tansu broker, and nothing else.

Everything here is active only when ``settings.broker_embedded`` is true (the demo, the
tests, a laptop).  Production runs on Apache Kafka and never calls :func:`apply`.  Even in a
process that also talks to Apache Kafka (the test suite runs on both), the patched code paths
act only for clients whose bootstrap servers were registered by :func:`apply`: on Kafka the
workarounds are off, and tests/integration/test_embedded_quirks.py shows they are unneeded.
Each workaround answers one measured quirk of Tansu 0.6 (see design.md):

1. ListOffsets(latest) returns the *last batch's base offset + 1*, not the high watermark.
   With multi-record batches ``end_offsets()`` is too small and Faust's table recovery
   stops early, silently losing updates.  Fix: after asking ListOffsets, read the real
   high watermark from a zero-wait Fetch response (which Tansu gets right).
2. A waiting fetch is not woken when data arrives, so every hop waits the full fetch
   wait (Faust hard-codes 1.5 s).  Fix: cap the fetch wait at 50 ms (Faust's consumer is
   patched by :mod:`streams.worker.embedded_faust`, the only Faust-aware part).
3. JoinGroup waits session_timeout/2 and the first member never leaves cleanly.  Fix: a
   short session timeout (6 s) with a 1 s heartbeat.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from aiokafka.consumer.fetcher import Fetcher, OffsetResetStrategy
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.structs import TopicPartition

log = logging.getLogger(__name__)

FETCH_MAX_WAIT_MS = 50
SESSION_TIMEOUT_S = 6.0
HEARTBEAT_INTERVAL_S = 1.0

_applied = False
_embedded_servers: set[str] = set()  # host:port of the embedded brokers apply() was called for


def _servers(bootstrap: Any) -> set[str]:
    items = bootstrap.split(",") if isinstance(bootstrap, str) else list(bootstrap or [])
    return {str(s).strip().removeprefix("kafka://") for s in items if str(s).strip()}


def active_for(bootstrap: Any) -> bool:
    """True when a client with these bootstrap servers talks to an embedded broker (gets the workarounds)."""
    return _applied and bool(_servers(bootstrap) & _embedded_servers)


def consumer_overrides() -> dict[str, Any]:
    """aiokafka consumer keyword arguments for the embedded broker (quirks 2 and 3)."""
    return {
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
        "session_timeout_ms": int(SESSION_TIMEOUT_S * 1000),
        "heartbeat_interval_ms": int(HEARTBEAT_INTERVAL_S * 1000),
    }


async def true_high_watermarks(client: Any, offsets: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
    """Ask a short Fetch at ``offset - 1`` for each partition and return its high watermark."""
    by_node: dict[int, dict[str, list[tuple[int, int, int]]]] = defaultdict(lambda: defaultdict(list))
    for tp, offset in offsets.items():
        node = client.cluster.leader_for_partition(tp)
        if node is None or node < 0:
            continue
        # Tansu answers an empty response to min_bytes=0 / tiny max_bytes, so ask for the
        # record just before the reported end (it exists) and bound the wait.
        by_node[node][tp.topic].append((tp.partition, max(offset - 1, 0), 64 * 1024))
    result: dict[TopicPartition, int] = {}
    for node, topics in by_node.items():
        request = FetchRequest(
            max_wait_time=10, min_bytes=1, max_bytes=1024 * 1024, isolation_level=0, topics=list(topics.items())
        )
        response = await client.send(node, request)
        for topic, partitions in response.topics:
            for part in partitions:
                partition, error_code, high_watermark = part[0], part[1], part[2]
                if error_code == 0 and high_watermark >= 0:
                    result[TopicPartition(topic, partition)] = high_watermark
    return result


def _patch_end_offsets() -> None:
    original = Fetcher._retrieve_offsets

    async def _retrieve_offsets(self: Fetcher, timestamps: dict, timeout_ms: float = float("inf")) -> dict:
        offsets = await original(self, timestamps, timeout_ms)
        if not active_for(self._client._bootstrap_servers):
            return offsets
        latest = {
            tp: off
            for tp, (off, _ts) in offsets.items()
            if timestamps.get(tp) == OffsetResetStrategy.LATEST and off is not None and off > 0
        }
        if not latest:
            return offsets
        try:
            fixed = await true_high_watermarks(self._client, latest)
        except Exception:  # a probe failure must not break the consumer: keep Tansu's answer
            log.warning("embedded broker: high-watermark probe failed, end offsets may be low", exc_info=True)
            return offsets
        out = dict(offsets)
        for tp, hw in fixed.items():
            if hw > latest[tp]:
                out[tp] = (hw, offsets[tp][1])
        return out

    _retrieve_offsets.__wrapped__ = original  # type: ignore[attr-defined]
    Fetcher._retrieve_offsets = _retrieve_offsets  # type: ignore[method-assign]


def apply(bootstrap: str | None = None) -> None:
    """Install the patches (quirks 1 and 2) for clients of the embedded broker at ``bootstrap``.

    Idempotent; ``bootstrap=None`` re-enables them for the brokers registered before (after revert()).
    """
    global _applied
    if bootstrap:
        _embedded_servers.update(_servers(bootstrap))
    if _applied:
        return
    _patch_end_offsets()
    _applied = True
    log.info("embedded broker workarounds active (end offsets, fetch wait, group timeouts)")


def is_applied() -> bool:
    return _applied


def revert() -> None:
    """Undo apply() (tests use this to show each workaround is needed)."""
    global _applied
    if hasattr(Fetcher._retrieve_offsets, "__wrapped__"):
        Fetcher._retrieve_offsets = Fetcher._retrieve_offsets.__wrapped__  # type: ignore[method-assign]
    _applied = False  # the Faust worker's own patch (streams.worker.embedded_faust) asks active_for(): now off
