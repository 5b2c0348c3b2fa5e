"""Checkpoints and commits of the ASR worker (the Kafka side; owned by :class:`AsrWorker`).

The pure parts are :mod:`pipeline.asr.checkpoint` (record format, offset arithmetic) and
:class:`pipeline.asr.ledger.PartitionLedger` (which calls, streams and offsets a
partition's checkpoint accounts for).  This writes them: snapshot the streams under the
transcriber's output lock, wait until every transcript is acknowledged, write one
checkpoint per audio partition, then commit audio and event offsets.  On assignment the
last checkpoint of a partition is read back, the consumer seeks to it and its calls are
reopened with their streams' resume points (:meth:`WorkerCheckpoints.resume`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any

from aiokafka import TopicPartition

from pipeline.asr.checkpoint import CallEntry, Checkpoint, CheckpointError, split_key
from pipeline.asr.ledger import END_GRACE_S, PartitionLedger, Snapshot
from pipeline.asr.metrics import AsrMetrics
from pipeline.asr.settings import AsrSettings
from pipeline.asr.stream import ResumePoint
from pipeline.asr.transcriber import StreamResume, Transcriber

log = logging.getLogger(__name__)


class WorkerCheckpoints:
    def __init__(
        self, settings: AsrSettings, tr: Transcriber, ledger: PartitionLedger, metrics: AsrMetrics
    ) -> None:
        self.s = settings
        self.tr = tr
        self.ledger = ledger
        self.metrics = metrics
        self.consumer: Any = None  # the group consumer (commits), set by bind()
        self.producer: Any = None  # writes checkpoints; its flush() acknowledges transcripts
        self.reader: Any = None  # reads checkpoints back (no group)
        self.written = 0

    def bind(self, consumer: Any, producer: Any, reader: Any) -> None:
        self.consumer, self.producer, self.reader = consumer, producer, reader

    async def loop(self) -> None:
        while True:
            await asyncio.sleep(self.s.asr_checkpoint_interval_s)
            try:
                await self.write()
            except Exception:
                log.exception("checkpoint failed; offsets stay where they were")
                self.metrics.errors.inc("broker")

    def _snapshot(self) -> Snapshot:
        """Resume state of every stream (runs in the transcriber's state thread)."""
        out: Snapshot = {}
        for call in self.tr.calls.values():
            for ch, st in call.streams.items():
                out[(call.call_id, ch)] = (
                    st.resume_point(),
                    st.needed_from(),
                    st.final_until,
                    call.language,
                    call.language_source,
                )
        return out

    async def write(self, only: list[TopicPartition] | None = None) -> None:
        """Checkpoint and commit the assigned partitions (or ``only`` these)."""
        assert self.consumer is not None and self.producer is not None
        async with self.tr.output_lock:
            captured = dict(self.ledger.next_offset)
            snap = await self.tr.run_in_state(self._snapshot)
        await self.producer.flush()  # every transcript the snapshot accounts for is acknowledged
        commits = {}
        for tp in only or list(self.consumer.assignment()):
            if tp.topic != self.s.topic_audio or tp not in captured:
                continue
            ck = self.ledger.checkpoint(self.s.topic_audio, tp.partition, captured[tp], snap, time.time())
            await self.producer.send_and_wait(
                self.s.topic_asr_checkpoints,
                ck.to_bytes(),
                key=f"{tp.topic}:{tp.partition}".encode(),
                partition=tp.partition,
            )
            commits[tp] = ck.offset
        parts = {p.partition for p in only} if only is not None else None
        saved = {c for c, _ch in snap}
        commits.update(self.ledger.event_commits(parts, saved, set(self.tr.calls), time.monotonic()))
        if commits:
            await self.consumer.commit(commits)
            self.written += 1
            self.metrics.checkpoints.inc()

    async def resume(self, tp: TopicPartition) -> int:
        """A newly assigned audio partition: seek to its checkpoint and reopen its calls there.
        Returns the number of streams resumed (0: no usable checkpoint)."""
        from models.whisper.vad import VadState

        ck = await self.read(tp.partition)
        if ck is None:
            return 0
        committed = await self.consumer.committed(tp)
        if committed is not None and committed > ck.offset:
            log.warning("checkpoint of %s is older than its committed offset; ignoring it", tp)
            return 0
        self.consumer.seek(tp, ck.offset)
        self.ledger.restore(tp, ck)
        resumes: dict[str, dict[str, StreamResume]] = defaultdict(dict)
        for key, entry in ck.streams.items():
            call_id, ch = split_key(key)
            point = ResumePoint(entry.window, VadState.from_dict(entry.vad), entry.floor)
            resumes[call_id][ch] = StreamResume(point, entry.suppress_until)
            self.ledger.call(call_id).partition = tp.partition
        for call_id, res in resumes.items():
            info = ck.calls.get(call_id, CallEntry())
            call = self.ledger.call(call_id)
            call.info = info
            await self.tr.open_call(call_id, info.language or None, resume=res, queue=info.queue)
            if info.ended:
                call.end_deadline = time.monotonic() + END_GRACE_S
        log.info(
            "%s: resuming at offset %d with %d stream(s) from the checkpoint", tp, ck.offset, len(ck.streams)
        )
        return len(ck.streams)

    async def read(self, partition: int) -> Checkpoint | None:
        """The latest usable checkpoint of an audio partition (None: start from the committed offset)."""
        assert self.reader is not None
        tp = TopicPartition(self.s.topic_asr_checkpoints, partition)
        self.reader.assign([tp])
        end = (await self.reader.end_offsets([tp]))[tp]
        if end <= 0:
            return None
        self.reader.seek(tp, end - 1)
        records = (await self.reader.getmany(tp, timeout_ms=3000)).get(tp, [])
        if not records:
            log.warning("could not read the checkpoint of audio partition %d", partition)
            return None
        try:
            ck = Checkpoint.from_bytes(records[-1].value)
        except CheckpointError as exc:
            log.error(
                "unusable checkpoint for audio partition %d (%s): starting from the committed offset",
                partition,
                exc,
            )
            return None
        if ck.topic != self.s.topic_audio or ck.partition != partition:
            return None
        return ck
