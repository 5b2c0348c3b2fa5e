"""Checkpoints, commits and rebalances of the ASR worker (mixed into :class:`AsrWorker`).

Split from :mod:`pipeline.asr.worker` to keep modules small.  The pure part (record format,
offset arithmetic) is :mod:`pipeline.asr.checkpoint`; this is the Kafka side: snapshot the
streams under the transcriber's output lock, wait until every transcript is acknowledged,
write one checkpoint per audio partition, then commit audio and event offsets.  On
assignment the last checkpoint is read back and the consumer seeks to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque
from typing import Any

from aiokafka import TopicPartition

from pipeline.asr.checkpoint import (
    CallEntry,
    Checkpoint,
    CheckpointError,
    FrameLog,
    StreamEntry,
    resume_offset,
    split_key,
    stream_key,
)
from pipeline.asr.metrics import AsrMetrics
from pipeline.asr.settings import AsrSettings
from pipeline.asr.stream import SR, ResumePoint
from pipeline.asr.transcriber import StreamResume, Transcriber

log = logging.getLogger(__name__)

END_GRACE_S = 5.0  # after "ended", wait this long for the call's last audio frames
ORPHAN_EVENT_S = 300.0  # an event whose call never sent audio stops holding back the commit


class CheckpointMixin:
    # provided by AsrWorker
    s: AsrSettings
    tr: Transcriber
    metrics: AsrMetrics
    consumer: Any
    producer: Any
    reader: Any
    _ready: bool
    partition_of: dict[str, int]
    logs: dict[tuple[str, str], FrameLog]
    captured: dict[tuple[str, str], deque[tuple[float, float]]]
    channel_end: dict[tuple[str, str], float]
    done: defaultdict[int, dict[str, int]]
    skip: dict[str, int]
    calls_info: dict[str, CallEntry]
    next_offset: dict[TopicPartition, int]
    events_pending: defaultdict[TopicPartition, deque[tuple[int, str, float]]]
    pending_end: dict[str, float]
    detached: set[str]
    checkpoints_written: int
    resumed_streams: int

    # -- checkpoints -------------------------------------------------------------------
    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(self.s.asr_checkpoint_interval_s)
            try:
                await self.checkpoint()
            except Exception:
                log.exception("checkpoint failed; offsets stay where they were")
                self.metrics.errors.inc("broker")

    def _snapshot(self) -> dict:
        out = {}
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

    async def checkpoint(self, only: list[TopicPartition] | None = None) -> None:
        assert self.consumer is not None and self.producer is not None
        async with self.tr.output_lock:
            captured = dict(self.next_offset)
            snap = await self.tr.run_in_state(self._snapshot)
        await self.producer.flush()  # every transcript the snapshot accounts for is acknowledged
        commits = {}
        for tp in only or list(self.consumer.assignment()):
            if tp.topic != self.s.topic_audio or tp not in captured:
                continue
            ck = Checkpoint(self.s.topic_audio, tp.partition, 0, written_at=time.time())
            needed = []
            for (call_id, ch), (rp, need, sup, lang, source) in snap.items():
                if self.partition_of.get(call_id) != tp.partition or rp is None:
                    continue
                ck.streams[stream_key(call_id, ch)] = StreamEntry(
                    rp.window, rp.vad_state.to_dict(), rp.floor, sup
                )
                info = self.calls_info.get(call_id, CallEntry())
                ck.calls[call_id] = CallEntry(
                    lang or info.language, source or info.source, info.ended, info.duration
                )
                flog = self.logs.get((call_id, ch))
                if flog is not None and need is not None:
                    needed.append(flog.first_needed(need / SR))
                    flog.trim(need / SR)
            ck.offset = resume_offset(captured[tp], needed)
            done = self.done[tp.partition]
            for k in [k for k, last in done.items() if last < ck.offset]:
                del done[k]
            ck.done = dict(done)
            await self.producer.send_and_wait(
                self.s.topic_asr_checkpoints,
                ck.to_bytes(),
                key=f"{tp.topic}:{tp.partition}".encode(),
                partition=tp.partition,
            )
            commits[tp] = ck.offset
        commits.update(self._event_commits(only, {c for c, _ch in snap}))
        if commits:
            await self.consumer.commit(commits)
            self.checkpoints_written += 1
            self.metrics.checkpoints.inc()

    def _event_commits(self, only, saved: set[str]) -> dict[TopicPartition, int]:
        out = {}
        live = set(self.tr.calls)
        now = time.monotonic()
        parts = {p.partition for p in only} if only is not None else None

        def safe(call_id: str, at: float) -> bool:
            # An event may be committed once what it said is in a checkpoint (its call has
            # audio state there) or no longer matters (the call is finished); events of calls
            # with no audio yet hold the commit back, up to ORPHAN_EVENT_S.
            info = self.calls_info.get(call_id)
            finished = info is None or (info.ended and call_id not in live)
            return call_id in saved or finished or now - at > ORPHAN_EVENT_S

        for tp, pending in self.events_pending.items():
            if parts is not None and tp.partition not in parts:
                continue
            while pending and safe(pending[0][1], pending[0][2]):
                pending.popleft()
            if tp in self.next_offset:
                out[tp] = pending[0][0] if pending else self.next_offset[tp]
        return out

    # -- rebalance ---------------------------------------------------------------------
    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        audio = [tp for tp in revoked if tp.topic == self.s.topic_audio]
        if not audio or not self._ready:
            return
        with contextlib.suppress(Exception):
            await self.checkpoint(only=audio)
        parts = {tp.partition for tp in audio}
        gone = [c for c, p in self.partition_of.items() if p in parts]
        self.detached.update(gone)
        await self.tr.run_in_state(self._drop_calls, gone)
        for c in gone:
            self.partition_of.pop(c, None)
            self.calls_info.pop(c, None)
            self.pending_end.pop(c, None)
        for key in [k for k in self.logs if k[0] in self.detached]:
            self.logs.pop(key, None)
            self.captured.pop(key, None)
            self.channel_end.pop(key, None)
        for p in parts:
            self.done.pop(p, None)
        for tp in revoked:
            self.next_offset.pop(tp, None)
            self.events_pending.pop(tp, None)

    def _drop_calls(self, call_ids: list[str]) -> None:
        for c in call_ids:
            self.tr.calls.pop(c, None)

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        for tp in assigned:
            if tp.topic != self.s.topic_audio:
                continue
            ck = await self._read_checkpoint(tp.partition)
            if ck is None:
                continue
            committed = await self.consumer.committed(tp)
            if committed is not None and committed > ck.offset:
                log.warning("checkpoint of %s is older than its committed offset; ignoring it", tp)
                continue
            self.consumer.seek(tp, ck.offset)
            self.next_offset[tp] = ck.offset
            self.done[tp.partition] = dict(ck.done)
            self.skip.update(ck.done)
            resumes: dict[str, dict[str, StreamResume]] = defaultdict(dict)
            for key, entry in ck.streams.items():
                call_id, ch = split_key(key)
                from models.whisper.vad import VadState

                point = ResumePoint(entry.window, VadState.from_dict(entry.vad), entry.floor)
                resumes[call_id][ch] = StreamResume(point, entry.suppress_until)
                self.resumed_streams += 1
                self.partition_of[call_id] = tp.partition
            for call_id, res in resumes.items():
                info = ck.calls.get(call_id, CallEntry())
                self.calls_info[call_id] = info
                await self.tr.open_call(call_id, info.language or None, resume=res)
                if info.ended:
                    self.pending_end[call_id] = time.monotonic() + END_GRACE_S
            log.info(
                "%s: resuming at offset %d with %d stream(s) from the checkpoint",
                tp,
                ck.offset,
                len(ck.streams),
            )

    async def _read_checkpoint(self, partition: int) -> Checkpoint | None:
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
