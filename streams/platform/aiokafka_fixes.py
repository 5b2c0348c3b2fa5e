"""One fix to aiokafka 0.14, needed on a real multi-broker cluster (not specific to Tansu).

``Fetcher.close()`` cancels its pending fetch tasks and awaits each one without catching the
``CancelledError`` it just caused: when a consumer stops while a fetch is retrying against a
dead broker (a partition leader SIGKILLed), ``consumer.stop()`` itself raises ``CancelledError``
and the caller's shutdown is cut short, as if *it* had been cancelled.  Found by
tests/integration/test_faults_kafka.py (leader killed on a 3-node cluster).  Fix: cancel them,
then gather them with ``return_exceptions=True`` — a cancel of the caller still propagates.

Installed by :mod:`streams.platform.kafka_clients` and :mod:`streams.worker.faust_app` (idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka.consumer.fetcher import Fetcher

_applied = False


async def _close(self: Any) -> None:
    self._closed = True
    self._fetch_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await self._fetch_task
    for waiter in self._fetch_waiters:  # fail pending fetchone/fetchall calls, as upstream
        self._notify(waiter)
    pending = list(self._pending_tasks)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


def apply() -> None:
    global _applied
    if _applied:
        return
    _close.__wrapped__ = Fetcher.close  # type: ignore[attr-defined]
    Fetcher.close = _close  # type: ignore[method-assign]
    _applied = True
