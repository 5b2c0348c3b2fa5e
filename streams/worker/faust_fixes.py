"""Two fixes to Faust 0.15.3 that lose stream records when a worker (re)starts with a table.

Found by the restart fault test (tests/integration/test_faults_streams_restart.py): a worker
restarted after a SIGKILL recovered its table but skipped some or all of the records produced
while it was down, in about 2 of 5 runs on the embedded broker (debug logs: aiokafka handed the
records over, Faust discarded them as "not active").  Any broker that answers inside Faust's
hand-over window can do it; neither fix is specific to Tansu.  Measured: fix 1 alone, 12 of 12
runs passed; fix 2 alone, 25 of 40; both, 25 of 25.  Fix 2 closes a second window that the test
does not isolate (read from the code, and reported upstream).

1. **Live partition set handed to aiokafka** (:class:`SnapshotConsumer`).  Faust passes its
   *live* set of active partitions to ``Fetcher.fetched_records`` in the consumer thread,
   where an empty set means "every partition".  When recovery pauses the changelog
   partitions the set becomes empty for a moment, aiokafka hands over records of the
   still-paused stream partitions (advancing its position past them), and Faust discards
   them as "not active".  Nothing ever seeks back: the records are gone.  Fix: hand aiokafka
   a frozen copy, taken after Faust checked that it is not empty.
2. **Resume before seek** (:class:`SafeResumeRecovery`).  Recovery ends by resuming the
   stream partitions, seeking them to the committed offsets, and only then calling
   ``app.flow_control.resume()``, which *clears* every agent buffer: records delivered in
   between are counted as read, thrown away, and dropped again as duplicates after the
   re-fetch.  Upstream report: faust-streaming/faust#596 (open).  Fix: seek while the stream
   partitions are still paused, clear the buffers, then resume the partitions and the flow.

:class:`CallassistApp` installs both; :func:`streams.worker.faust_app.make_app` builds it.
The fixes reach into Faust internals, so they are pinned to the release they were written and
tested against: another Faust version refuses to start until someone re-checks them
(:func:`check_faust_version`), instead of silently losing records again.

On Apache Kafka the app's producer is also idempotent (:class:`IdempotentProducer`): Faust
enables idempotence only for exactly-once, and a retried send after a broker failover would
otherwise write a duplicate alert or suggestion.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import faust
from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP, TransportT

#: the Faust release these fixes were written and tested against (pyproject.toml pins it)
TESTED_FAUST_VERSION = "0.15.3"


def check_faust_version(version: str = faust.__version__) -> None:
    if version != TESTED_FAUST_VERSION:
        raise RuntimeError(
            f"streams.worker.faust_fixes patches Faust {TESTED_FAUST_VERSION} internals, but Faust {version} "
            "is installed: re-run tests/integration/test_faults_streams_restart.py and re-check each fix "
            "against the new release, then update TESTED_FAUST_VERSION"
        )


class SafeResumeRecovery(Recovery):
    """:class:`faust.tables.recovery.Recovery` with the hand-over to the streams reordered."""

    async def on_recovery_completed(self, generation_id: int = 0) -> None:
        self.log.info("Restore complete!")
        await self.app.on_rebalance_complete.send()
        self._set_recovery_ended()
        table_callbacks = [
            asyncio.ensure_future(
                table.on_recovery_completed(self.actives_for_table[table], self.standbys_for_table[table])
            )
            for table in self.tables.values()
        ]
        if table_callbacks:
            await asyncio.wait(table_callbacks)  # as Faust does: a failing callback does not stop the hand-over
        if self.app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        await self._seek_then_resume_streams()
        if not self.app.assignor.assigned_standbys():
            self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _resume_streams(self, generation_id: int = 0) -> None:
        await self.app.on_rebalance_complete.send()
        if self.app.consumer_generation_id != generation_id:
            self.log.warning("Recovery rebalancing again")
            return
        await self._seek_then_resume_streams()
        self.tables.on_standbys_ready()
        self.app.on_rebalance_end()
        self.log.info("Worker ready")

    async def _seek_then_resume_streams(self) -> None:
        app, consumer = self.app, self.app.consumer
        stream_tps = {tp for tp in consumer.assignment() if not self._is_changelog_tp(tp)}
        if stream_tps:
            self.log.info("Seek stream partitions to committed offsets.")
            # the stream partitions are still paused here: nothing of theirs is in a buffer yet
            await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
        self.completed.set()
        app.flow_control.resume()  # clears the buffers: must come before any stream record enters them
        consumer.resume_partitions(stream_tps)
        consumer.resume_flow()
        await cast(Any, app)._fetcher.maybe_start()
        self.tables.on_actives_ready()


class SafeResumeTableManager(TableManager):
    """Faust's table manager, recovering through :class:`SafeResumeRecovery`."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = SafeResumeRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery


class SnapshotConsumer(aiokafka_driver.Consumer):
    """Faust's aiokafka consumer, asking the fetcher thread for a fixed set of partitions."""

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:  # noqa: ASYNC109
        snapshot = None if active_partitions is None else frozenset(active_partitions)
        return await super()._getmany(cast(Any, snapshot), timeout)


class SnapshotTransport(aiokafka_driver.Transport):
    """The aiokafka transport with :class:`SnapshotConsumer`."""

    Consumer = SnapshotConsumer


class IdempotentProducer(aiokafka_driver.Producer):
    """Faust's aiokafka producer, idempotent outside transactions too (acks=all, enable_idempotence)."""

    def _settings_extra(self) -> dict[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class IdempotentTransport(SnapshotTransport):
    """:class:`SnapshotTransport` (the recovery fix stays on) with the idempotent producer."""

    Producer = IdempotentProducer


class CallassistApp(faust.App):
    """A Faust app whose consumer and table recovery carry the two fixes above.

    ``idempotent_producer``: produce through :class:`IdempotentProducer` (Apache Kafka; the
    embedded broker does not support idempotent producers).
    """

    def __init__(self, id: str, *, idempotent_producer: bool = False, **options: Any) -> None:  # noqa: A002
        check_faust_version()
        self._transport_cls = IdempotentTransport if idempotent_producer else SnapshotTransport
        options.setdefault("TableManager", SafeResumeTableManager)
        super().__init__(id, **options)

    def _new_transport(self) -> TransportT:
        return self._transport_cls(self.conf.broker_consumer, self)
