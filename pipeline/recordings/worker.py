"""``callassist recordings``: the recording sink (calls.audio → FLAC per call and channel).

Consumes ``calls.audio`` (bulk bytes: aiokafka, manual commits) and ``calls.events``. Each
batch of frames is appended to a durable spool (fsynced) *before* its offsets are committed:
at-least-once, nothing lost on a crash or restart (the spool is on disk, uncommitted frames
come again). Frames are idempotent by (call_id, channel, seq): a duplicate is dropped here
when seen in this run and lands on itself when the call is written. A call is written as
FLAC once it ended (plus a grace period for late audio) or went idle; the spool is then
removed. All file work runs on one executor thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from pipeline.recordings.settings import RecordingSettings
from streams.contract.audio import AudioFrame
from streams.contract.codec import RecordDecodeError, decode
from streams.contract.records import CallEvent
from streams.platform import metrics_catalogue as cat
from streams.platform import recording_spool as spool
from streams.platform.kafka_clients import ensure_topics, make_consumer, start_client
from streams.platform.lag import ConsumerLag
from streams.platform.lag import stop as lag_stop
from streams.platform.observability import malformed_counter
from streams.platform.recording_store import CHANNELS, call_dir_name

log = logging.getLogger(__name__)
_HOUSEKEEPING_S = 1.0
_RETENTION_EVERY_S = 600.0


@dataclass
class _SpooledCall:
    last_audio: float  # epoch seconds of the last frame spooled
    ended_at: float | None = None
    seen: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))


COMPONENT = "recordings"


class RecordingMetrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        reg = registry if registry is not None else CollectorRegistry()
        self.registry = reg
        # -- catalogue series (docs/metrics.md), shared with every process -------------------
        cat.build_info(reg, COMPONENT)
        self.errors = cat.Errors(reg, COMPONENT)
        self.active_calls = cat.active_calls(reg, COMPONENT)  # calls in the spool
        self.frames_dropped = cat.frames_dropped(reg)  # {reason}: duplicates
        # -- the sink's own detail -------------------------------------------------------------
        self.frames = Counter(
            "callassist_recordings_frames_total", "Audio frames seen by the sink", ["result"], registry=reg
        )
        self.calls = Counter(
            "callassist_recordings_calls_written_total", "Calls written to the store", ["reason"], registry=reg
        )
        self.expired = Counter("callassist_recordings_expired_total", "Recordings deleted by retention", registry=reg)
        self.spooled = Gauge("callassist_recordings_spooled_calls", "Calls in the spool", registry=reg)
        self.malformed = malformed_counter(reg)


class RecordingSink:
    def __init__(self, settings: RecordingSettings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.metrics = RecordingMetrics(registry)
        self.store = settings.make_store()
        self.calls: dict[str, _SpooledCall] = {}
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recordings")
        self._consumer: AIOKafkaConsumer | None = None
        self._stop = asyncio.Event()
        self._ready = False
        self._next_housekeeping = 0.0
        self._next_retention = 0.0
        self.lag = ConsumerLag(self.metrics.registry, [settings.topic_audio, settings.topic_events])
        self._lag_task: asyncio.Task[None] | None = None

    def ready(self) -> bool:
        return self._ready

    def request_stop(self) -> None:
        """Make :meth:`run` return after the batch in hand (the signal handler of run_service)."""
        self._ready = False  # /readyz answers 503 from the moment we drain
        self._stop.set()

    async def stop(self) -> None:
        await self.close()

    async def start(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        self.calls = await loop.run_in_executor(self._executor, self._recover_spool)
        if s.create_topics:
            await ensure_topics(s, [s.topic_audio, s.topic_events])
        consumer = make_consumer(
            s, s.recordings_group_id, s.topic_audio, s.topic_events, max_poll_records=s.recordings_max_poll_records
        )
        await start_client(consumer, s)
        self._consumer = consumer
        self._lag_task = self.lag.start_aiokafka(consumer)
        self._ready = True
        where = f"s3://{s.recordings_s3_bucket}/{s.recordings_s3_prefix}" if s.recordings_backend == "s3" else s.store_dir
        log.info("recording sink consuming %s into %s (%d calls in the spool)", s.topic_audio, where, len(self.calls))

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                await self.step()
        finally:
            await self.close()

    async def step(self, timeout_ms: int = 200) -> int:
        """One poll → spool (fsync) → commit cycle, then housekeeping; returns frames spooled."""
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=timeout_ms)
        by_call: dict[str, list[AudioFrame]] = defaultdict(list)
        ended: list[str] = []
        for tp, msgs in batches.items():
            for msg in msgs:
                if tp.topic == self.settings.topic_audio:
                    try:
                        frame = AudioFrame.from_bytes(msg.value)
                    except RecordDecodeError as exc:
                        self._bad(tp.topic, tp.partition, msg.offset, exc)
                        continue
                    by_call[frame.call_id].append(frame)
                else:
                    try:
                        ev = decode(CallEvent, msg.value)
                    except RecordDecodeError as exc:
                        self._bad(tp.topic, tp.partition, msg.offset, exc)
                        continue
                    if ev.kind == "ended":
                        ended.append(ev.call_id)
        new = self._drop_duplicates(by_call)
        loop = asyncio.get_running_loop()
        now = time.time()
        if new or ended:
            ended_known = await loop.run_in_executor(self._executor, self._spool, new, ended, now)
            for cid, frames in new.items():
                call = self.calls.setdefault(cid, _SpooledCall(last_audio=now))
                call.last_audio = now
                for f in frames:
                    call.seen[f.channel].add(f.seq)
            for cid in ended_known:
                self.calls.setdefault(cid, _SpooledCall(last_audio=now)).ended_at = now
        if batches:
            await self._consumer.commit()  # only after the spool was fsynced
        self.metrics.frames.labels("spooled").inc(sum(len(v) for v in new.values()))
        await self._housekeeping(now)
        self.metrics.spooled.set(len(self.calls))
        self.metrics.active_calls.set(len(self.calls))
        return sum(len(v) for v in new.values())

    def _bad(self, topic: str, partition: int, offset: int, exc: Exception) -> None:
        self.metrics.frames.labels("malformed").inc()
        self.metrics.malformed.labels(topic).inc()
        self.metrics.errors.inc("malformed_record")
        log.warning("skipping malformed record at %s[%d]@%d: %s", topic, partition, offset, exc)

    def _drop_duplicates(self, by_call: dict[str, list[AudioFrame]]) -> dict[str, list[AudioFrame]]:
        out: dict[str, list[AudioFrame]] = {}
        for cid, frames in by_call.items():
            seen = self.calls[cid].seen if cid in self.calls else {}
            batch: set[tuple[str, int]] = set()
            keep = []
            for f in frames:
                key = (f.channel, f.seq)
                if f.seq in seen.get(f.channel, ()) or key in batch:
                    self.metrics.frames.labels("duplicate").inc()
                    self.metrics.frames_dropped.labels("duplicate").inc()
                    continue
                batch.add(key)
                keep.append(f)
            if keep:
                out[cid] = keep
        return out

    # -- executor thread only ------------------------------------------------------------------
    def _folder(self, call_id: str) -> Path:
        return self.settings.spool_dir / call_dir_name(call_id)

    def _spool(self, new: dict[str, list[AudioFrame]], ended: list[str], now: float) -> list[str]:
        fsync = self.settings.recordings_fsync
        for cid, frames in new.items():
            folder = self._folder(cid)
            if not (folder / "call_id").exists():
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "call_id").write_text(cid, "utf-8")
            per_channel: dict[str, list[bytes]] = defaultdict(list)
            for f in frames:
                per_channel[f.channel].append(spool.encode(f.seq, f.start, f.sample_rate, f.encoding, f.payload))
            for channel, records in per_channel.items():
                spool.append(folder / f"{channel}.spool", records, fsync)
        # calls.events and calls.audio are different topics: an end event may come before
        # (some of) the call's audio, so it is always kept, durably, like the audio
        for cid in ended:
            folder = self._folder(cid)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "call_id").write_text(cid, "utf-8")
            (folder / "ended").write_text(str(now), "utf-8")
        return ended

    def _recover_spool(self) -> dict[str, _SpooledCall]:
        calls: dict[str, _SpooledCall] = {}
        root = self.settings.spool_dir
        if not root.exists():
            return calls
        for folder in root.iterdir():
            try:
                cid = (folder / "call_id").read_text("utf-8")
            except OSError:
                continue
            spools = [folder / f"{ch}.spool" for ch in CHANNELS if (folder / f"{ch}.spool").exists()]
            marks = spools or [folder / "call_id"]
            call = _SpooledCall(last_audio=max(p.stat().st_mtime for p in marks))
            for p in spools:
                call.seen[p.stem] = set(spool.read(p))
            ended = folder / "ended"
            if ended.exists():
                call.ended_at = float(ended.read_text("utf-8") or 0)
            calls[cid] = call
        return calls

    def _write(self, call_id: str) -> None:
        folder = self._folder(call_id)
        frames = {ch: spool.read(folder / f"{ch}.spool") for ch in CHANNELS if (folder / f"{ch}.spool").exists()}
        if any(frames.values()):  # an end event whose call never sent audio leaves nothing
            self.store.write_call(call_id, frames)
        shutil.rmtree(folder)  # only after the FLAC files and meta.json are durable

    # ------------------------------------------------------------------------------------------
    async def _housekeeping(self, now: float) -> None:
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + _HOUSEKEEPING_S
        s = self.settings
        loop = asyncio.get_running_loop()
        for cid, call in list(self.calls.items()):
            quiet = now - call.last_audio
            if call.ended_at is not None and quiet >= s.recordings_end_grace_s and now - call.ended_at >= s.recordings_end_grace_s:
                reason = "ended"
            elif quiet >= s.recordings_idle_timeout_s:
                reason = "idle"
            else:
                continue
            try:
                await loop.run_in_executor(self._executor, self._write, cid)
            except OSError as exc:  # disk full etc.: keep the spool, try again next round
                self.metrics.errors.inc("storage")
                log.error("could not write the recording of %s: %s", cid, exc)
                continue
            self.metrics.calls.labels(reason).inc()
            del self.calls[cid]
        if now >= self._next_retention:
            self._next_retention = now + _RETENTION_EVERY_S
            gone = await loop.run_in_executor(self._executor, self.store.expire, s.recordings_retention_days)
            self.metrics.expired.inc(len(gone))

    async def close(self) -> None:
        # the spool stays on disk: a restarted sink continues from it; idempotent (run() closes,
        # then run_service's stop())
        self._ready = False
        await lag_stop(self._lag_task)
        self._lag_task = None
        if self._consumer is not None:
            try:
                await self._consumer.stop()
            except KafkaError as exc:
                log.warning("error stopping the consumer: %s", exc)
        self._consumer = None
        self._executor.shutdown(wait=True)
