"""The live ASR worker: ``calls.audio`` + ``calls.events`` -> ``calls.transcripts``.

aiokafka directly (audio is bulk bytes; design.md measured Faust an order of magnitude
slower).  One consumer in group ``asr_group_id`` subscribes to audio and events with the
*range* assignor, so with equal partition counts the worker that owns a call's audio
partition also gets its events.  The streaming itself is :class:`Transcriber`.

Delivery: a partition's offset is committed only after a checkpoint saying how to resume
was written, and that only after every transcript it accounts for was acknowledged
(:mod:`pipeline.asr.checkpoint`).  A restarted worker re-reads the checkpoint, seeks to
its offset, drops audio it already transcribed and re-derives the rest with the same
segment ids: no final is lost, none is produced twice (except ones produced in the
instant between a broker ack and the next checkpoint, which come again with the same
``segment_id`` and are dropped by consumers as duplicates).

What the worker holds about its calls is one :class:`pipeline.asr.ledger.AsrCall` per call
in a :class:`pipeline.asr.ledger.PartitionLedger` (assignment, revocation, eviction);
checkpoint records are written and read by :class:`WorkerCheckpoints`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, cast

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from pipeline.asr.calls import AudioInputError
from pipeline.asr.checkpoint import stream_key
from pipeline.asr.ledger import END_GRACE_S, PartitionLedger
from pipeline.asr.metrics import AsrMetrics
from pipeline.asr.settings import AsrSettings
from pipeline.asr.stream import SegmentOut, StreamFinished
from pipeline.asr.transcriber import Transcriber
from pipeline.asr.worker_checkpoints import WorkerCheckpoints
from streams.contract.audio import AudioFrame
from streams.contract.codec import RecordDecodeError, decode
from streams.contract.records import CallEvent, TranscriptSegment, Word
from streams.contract.vocab import Channel
from streams.platform.audio_codec import decode_payload
from streams.platform.kafka_clients import ensure_topics, make_consumer, make_producer, start_client
from streams.platform.lag import ConsumerLag
from streams.platform.lag import stop as lag_stop

log = logging.getLogger(__name__)


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, worker: AsrWorker) -> None:
        self.worker = worker

    async def on_partitions_revoked(self, revoked):
        await self.worker.on_revoked(list(revoked))

    async def on_partitions_assigned(self, assigned):
        await self.worker.on_assigned(list(assigned))


class AsrWorker:
    def __init__(self, settings: AsrSettings, engine, vad_factory, metrics: AsrMetrics | None = None) -> None:
        self.s = settings
        self.engine = engine
        self.metrics = metrics or AsrMetrics()
        device = getattr(engine, "device", "cpu")
        self.tr = Transcriber(
            engine,
            vad_factory,
            settings.transcriber_config(device),
            self._emit,
            self.metrics,
            on_call_done=self._call_done,
        )
        self.consumer: Any = None  # AIOKafkaConsumer once started
        self.producer: Any = None
        self.reader: Any = None  # checkpoint reader (no group)
        self._stop = asyncio.Event()
        self._final_checkpoint = True
        self._ready = False
        self.ledger = PartitionLedger()
        self.checkpoints = WorkerCheckpoints(settings, self.tr, self.ledger, self.metrics)
        self._paused = False
        self.lag = ConsumerLag(self.metrics.registry, [settings.topic_audio, settings.topic_events])
        self._lag_task: asyncio.Task[None] | None = None
        self.resumed_streams = 0

    @property
    def checkpoints_written(self) -> int:
        return self.checkpoints.written

    # -- lifecycle ---------------------------------------------------------------------
    def ready(self) -> bool:
        """/readyz: models loaded, broker connected, partitions assigned, not draining."""
        return self._ready and self.consumer is not None and bool(self.consumer.assignment())

    def stop(self, checkpoint: bool = True) -> None:
        self._final_checkpoint = checkpoint
        self._ready = False  # /readyz answers 503 from the moment we drain
        self._stop.set()

    async def start(self) -> None:
        s = self.s
        if s.create_topics:
            await ensure_topics(
                s, [s.topic_audio, s.topic_events, s.topic_transcripts, s.topic_asr_checkpoints]
            )
        self.producer = make_producer(s)
        await start_client(self.producer, s)
        self.reader = make_consumer(s, None)
        await start_client(self.reader, s)
        self.consumer = make_consumer(
            s, s.asr_group_id, partition_assignment_strategy=(RangePartitionAssignor,)
        )
        await start_client(self.consumer, s)
        self.checkpoints.bind(self.consumer, self.producer, self.reader)
        await self._check_partitions()
        self.consumer.subscribe([s.topic_audio, s.topic_events], listener=_Rebalance(self))
        await self.tr.start()
        self._lag_task = self.lag.start_aiokafka(self.consumer)
        self._ready = True
        log.info("ASR worker consuming %s and %s", s.topic_audio, s.topic_events)

    async def _check_partitions(self) -> None:
        s = self.s
        assert self.consumer is not None
        await self.consumer.topics()  # refreshes the metadata partitions_for_topic() reads
        counts = {
            t: len(self.consumer.partitions_for_topic(t) or ())
            for t in (s.topic_audio, s.topic_events, s.topic_asr_checkpoints)
        }
        if counts[s.topic_asr_checkpoints] < counts[s.topic_audio]:
            raise RuntimeError(
                f"{s.topic_asr_checkpoints} has {counts[s.topic_asr_checkpoints]} partitions but {s.topic_audio} has "
                f"{counts[s.topic_audio]}: the checkpoint topic needs at least as many"
            )
        if counts[s.topic_events] != counts[s.topic_audio]:
            log.warning(
                "%s and %s have different partition counts: call events may reach another worker "
                "(languages then come from detection, ends from the idle timeout)",
                s.topic_events,
                s.topic_audio,
            )

    async def run(self) -> None:
        await self.start()
        tasks = [asyncio.create_task(self.checkpoints.loop()), asyncio.create_task(self._housekeeping_loop())]
        try:
            while not self._stop.is_set():
                await self.step()
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await self.close(self._final_checkpoint)

    async def close(self, checkpoint: bool = True) -> None:
        """Stop; with ``checkpoint=False`` nothing is committed (what a crash leaves behind)."""
        self._ready = False
        await lag_stop(self._lag_task)
        if checkpoint:
            with contextlib.suppress(Exception):
                if self.consumer is not None and self.consumer.assignment():
                    await self.checkpoints.write()
        await self.tr.stop()
        for client in (self.consumer, self.reader, self.producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()

    # -- consume -----------------------------------------------------------------------
    async def step(self, timeout_ms: int = 100) -> int:
        assert self.consumer is not None
        await self._backpressure()
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=500)
        n = 0
        for tp, records in batches.items():
            for rec in records:
                if tp.topic == self.s.topic_audio:
                    await self._on_audio(tp, rec)
                else:
                    await self._on_event(tp, rec)
                self.ledger.consumed(tp, rec.offset)
                n += 1
        return n

    async def _backpressure(self) -> None:
        assert self.consumer is not None
        pending = await self.tr.pending_finals()
        audio = [tp for tp in self.consumer.assignment() if tp.topic == self.s.topic_audio]
        if pending > self.s.asr_max_pending_finals and not self._paused:
            self.consumer.pause(*audio)
            self._paused = True
        elif pending <= self.s.asr_max_pending_finals // 2 and self._paused:
            self.consumer.resume(*audio)
            self._paused = False

    async def _on_audio(self, tp: TopicPartition, rec) -> None:
        m = self.metrics
        try:
            frame = AudioFrame.from_bytes(rec.value)
            samples = decode_payload(frame.payload, frame.encoding)
        except (RecordDecodeError, ValueError) as exc:
            m.bad_record(tp.topic)
            m.frames_dropped.labels("malformed").inc()
            log.warning("skipping bad audio record at %s:%d: %s", tp, rec.offset, exc)
            return
        key = (frame.call_id, frame.channel)
        reason = self.ledger.drop_reason(tp.partition, rec.offset, stream_key(*key))
        if reason is not None:  # transcribed before the restart, or after the end of its stream
            m.frames_dropped.labels(reason).inc()
            return
        call = self.ledger.call(frame.call_id)
        chan = call.channel(frame.channel)
        if frame.seq <= chan.frames.last_seq:
            m.frames_dropped.labels("duplicate").inc()
            return
        self.ledger.attach(call, tp.partition)
        try:
            await self.tr.audio(frame.call_id, frame.channel, samples, frame.sample_rate, frame.start)
        except StreamFinished:
            m.frames_dropped.labels("late").inc()
            return
        except (AudioInputError, ValueError) as exc:
            m.errors.inc("bad_input")
            m.frames_dropped.labels("malformed").inc()
            log.warning("skipping audio record at %s:%d (%s/%s): %s", tp, rec.offset, *key, exc)
            return
        chan.accepted(rec.offset, frame.end, frame.seq, frame.captured_at)
        call.last_audio = time.monotonic()
        if call.end_deadline is not None:
            await self._maybe_end(frame.call_id)

    async def _on_event(self, tp: TopicPartition, rec) -> None:
        try:
            ev = decode(CallEvent, rec.value)
        except RecordDecodeError as exc:
            self.metrics.bad_record(tp.topic)
            log.warning("skipping bad call event at %s:%d: %s", tp, rec.offset, exc)
            return
        self.ledger.event_seen(tp, rec.offset, ev.call_id, time.monotonic())
        call = self.ledger.call(ev.call_id)
        info = call.info
        if ev.kind == "started":
            call.finished = False
            lang = ev.language or self.s.asr_default_language
            if lang and lang not in self.s.languages():
                log.warning(
                    "call %s: language %r not in %s, detecting instead", ev.call_id, lang, self.s.languages()
                )
                lang = ""
            if lang:
                info.language, info.source = lang, "open"
            info.queue = ev.queue
            await self.tr.open_call(ev.call_id, lang or None, queue=ev.queue)
        elif ev.kind == "ended":
            info.ended, info.duration = True, ev.duration
            call.end_deadline = time.monotonic() + END_GRACE_S
            await self._maybe_end(ev.call_id)

    async def _maybe_end(self, call_id: str, force: bool = False) -> None:
        """End the call once all its audio is here, or at its deadline after "ended"."""
        call = self.ledger.get(call_id)
        now = time.monotonic()
        complete = call is None or call.audio_complete(now)
        deadline = call.end_deadline if call is not None and call.end_deadline is not None else float("inf")
        if force or complete or now >= deadline:
            if call is not None:
                call.end_deadline = None
            await self.tr.end_call(call_id)

    async def _housekeeping_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for call in self.ledger.ending():
                await self._maybe_end(call.call_id)
            idle = await self.tr.run_in_state(
                self._idle_calls, time.monotonic() - self.s.asr_idle_call_timeout_s
            )
            for call_id in idle:
                log.info("call %s: no audio for %.0f s, closing it", call_id, self.s.asr_idle_call_timeout_s)
                await self.tr.end_call(call_id)

    def _idle_calls(self, before: float) -> list[str]:
        return [
            c.call_id
            for c in self.tr.calls.values()
            if not c.ended and c.streams and c.last_audio_at < before
        ]

    # -- produce -----------------------------------------------------------------------
    async def _emit(self, segments: list[SegmentOut]) -> None:
        assert self.producer is not None
        now = time.time()
        for seg in segments:
            if seg.call_id in self.ledger.detached:
                continue  # partition moved to another worker: it re-derives this segment
            audio_end_at = self.ledger.captured_at(seg.call_id, seg.channel, seg.end)
            rec = TranscriptSegment(
                call_id=seg.call_id,
                channel=cast(Channel, seg.channel),  # the frame's channel, checked on decode
                segment_id=seg.segment_id,
                is_final=seg.is_final,
                start=seg.start,
                end=seg.end,
                text=seg.text,
                language=seg.language,
                words=[
                    Word(start=w.start, end=w.end, text=w.text.strip(), probability=round(w.probability, 3))
                    for w in seg.words
                ],
                revision=seg.revision,
                produced_at=now,
                audio_end_at=audio_end_at,
                stable_len=seg.stable_len,
            )
            await self.producer.send(self.s.topic_transcripts, rec.to_bytes(), key=seg.call_id.encode())
            # docs/metrics.md: once per segment, for its last word
            last = seg.words[-1].end if seg.words else seg.end
            captured = self.ledger.captured_at(seg.call_id, seg.channel, last)
            if captured:
                kind = "final" if seg.is_final else "partial"
                self.metrics.word_latency.labels(kind).observe(max(0.0, now - captured))

    async def _call_done(self, call_id: str) -> None:
        self.ledger.call_done(call_id)

    # -- rebalance ---------------------------------------------------------------------
    async def on_revoked(self, revoked: list[TopicPartition]) -> None:
        audio = [tp for tp in revoked if tp.topic == self.s.topic_audio]
        if not audio or not self._ready:
            return
        with contextlib.suppress(Exception):
            await self.checkpoints.write(only=audio)
        gone = self.ledger.revoke({tp.partition for tp in audio}, revoked)
        await self.tr.run_in_state(self._drop_calls, gone)

    def _drop_calls(self, call_ids: list[str]) -> None:
        for c in call_ids:
            self.tr.calls.pop(c, None)

    async def on_assigned(self, assigned: list[TopicPartition]) -> None:
        for tp in assigned:
            if tp.topic == self.s.topic_audio:
                self.resumed_streams += await self.checkpoints.resume(tp)

