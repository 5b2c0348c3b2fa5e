"""The streaming transcription engine shared by the Kafka worker and the offline command.

No Kafka here: audio goes in through :meth:`Transcriber.audio`, segments come out through
the ``on_segments`` coroutine.  Threading, so that nothing blocks the event loop:

- one *state* thread owns every :class:`ChannelStream` (resampling, VAD, endpointing,
  job picking, applying results); all stream mutations happen there, in order, so there
  are no locks inside the pure logic;
- one *decode* thread runs the model (CTranslate2 uses its own intra-op threads);
- the event loop only moves data between them and awaits ``on_segments``.

``output_lock`` is held from applying a decode result until ``on_segments`` returned:
the Kafka worker takes it while snapshotting checkpoints, so a checkpoint never claims a
final that is not yet handed to the producer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from models.whisper.decoding import DecodeRequest, UtteranceDecoder
from pipeline.asr.calls import AsrCallState, ChannelInput, LanguagePolicy
from pipeline.asr.metrics import AsrMetrics
from pipeline.asr.scheduler import pick_jobs
from pipeline.asr.stream import SR, ChannelStream, Job, ResumePoint, SegmentOut, StreamConfig, Vad

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranscriberConfig:
    stream: StreamConfig = field(default_factory=StreamConfig)
    language: LanguagePolicy = field(default_factory=LanguagePolicy)
    batch_size: int = 1
    partial_batch_size: int = 1


@dataclass(frozen=True)
class StreamResume:
    point: ResumePoint | None
    suppress_until: int  # samples: finals ending at or before were already produced


class Transcriber:
    def __init__(
        self,
        decoder: UtteranceDecoder,
        vad_factory: Callable[[], Vad],
        config: TranscriberConfig,
        on_segments: Callable[[list[SegmentOut]], Awaitable[None]],
        metrics: AsrMetrics | None = None,
        request_factory: Callable[[Job], Any] | None = None,
        on_call_done: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.decoder = decoder
        self.vad_factory = vad_factory
        self.config = config
        self.on_segments = on_segments
        self.on_call_done = on_call_done
        self.metrics = metrics or AsrMetrics()
        self.request_factory = request_factory or _engine_request
        self.calls: dict[str, AsrCallState] = {}
        self.output_lock = asyncio.Lock()
        self._state = ThreadPoolExecutor(1, thread_name_prefix="asr-state")
        self._decode = ThreadPoolExecutor(1, thread_name_prefix="asr-decode")
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._progress = asyncio.Event()  # set after every model call
        self._task: asyncio.Task | None = None
        self._busy = False
        self.decode_calls = 0

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="asr-decode-loop")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._state.shutdown(wait=True)
        self._decode.shutdown(wait=True)

    async def _in_state(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._state, fn, *args)

    # -- input -------------------------------------------------------------------------
    async def open_call(
        self, call_id: str, language: str | None = None, resume: dict[str, StreamResume] | None = None,
        queue: str = "",
    ) -> AsrCallState:
        return await self._in_state(self._open_call, call_id, language, resume, queue)

    def _open_call(
        self, call_id: str, language: str | None, resume: dict[str, StreamResume] | None, queue: str = ""
    ) -> AsrCallState:
        call = self.calls.get(call_id)
        if call is None:
            call = AsrCallState(call_id, self.config.language, resume=resume or {})
            self.calls[call_id] = call
            self.metrics.active_calls.set(len(self.calls))
        if language and call.language is None:
            call.set_language(language, "open")
            self.metrics.languages.labels(language, "open").inc()
        if queue and not call.queue:
            call.queue = queue
            for stream in call.streams.values():
                stream.domain = queue
        return call

    async def audio(self, call_id: str, channel: str, samples: np.ndarray, rate: int, start: float) -> None:
        """Feed one frame (float32 samples at ``rate``, first sample at call time ``start``)."""
        await self._in_state(self._audio, call_id, channel, samples, rate, start)
        self._wake.set()

    def _audio(self, call_id: str, channel: str, samples: np.ndarray, rate: int, start: float) -> None:
        call = self.calls.get(call_id) or self._open_call(call_id, None, None)
        stream = call.streams.get(channel)
        if stream is None:
            stream = self._new_stream(call, channel, rate)
        inp = call.inputs[channel]
        out, pos = inp.feed(samples, start, rate)
        if out.size:
            stream.push(out, pos)
        call.last_audio_at = time.monotonic()
        self.metrics.audio_seconds.labels(channel).inc(samples.size / rate)

    def _new_stream(self, call: AsrCallState, channel: str, rate: int) -> ChannelStream:
        resume: StreamResume | None = call.resume.get(channel)
        stream = ChannelStream(
            call.call_id,
            channel,
            self.vad_factory(),
            self.config.stream,
            resume=resume.point if resume else None,
            suppress_until=resume.suppress_until if resume else 0,
        )
        stream.language = call.language
        stream.domain = call.queue
        call.streams[channel] = stream
        call.inputs[channel] = ChannelInput(rate, self.config.stream.max_gap_s)
        return stream

    async def end_call(self, call_id: str) -> None:
        """End of call: flush every channel; finals follow as soon as they are decoded."""
        await self._in_state(self._end_call, call_id)
        self._wake.set()
        await self._maybe_done([call_id])

    def _end_call(self, call_id: str) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        call.ended = True
        for channel, stream in call.streams.items():
            tail, pos = call.inputs[channel].flush()
            if tail.size and not stream.finished:
                stream.push(tail, pos)
            stream.finish()

    # -- decode loop -------------------------------------------------------------------
    def _pick(self) -> list[Job]:
        streams = [s for c in self.calls.values() for s in c.streams.values()]
        jobs = pick_jobs(
            streams, self.config.batch_size, self.config.partial_batch_size, self.config.stream.partials
        )
        self.metrics.queue_depth.set(sum(len(s.closed) for s in streams))
        self.metrics.buffered_seconds.set(sum(s.audio.size for s in streams) / SR)
        return jobs

    async def _loop(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug here must not silently stop all transcription: log, count, go on.
                log.exception("ASR decode loop error")
                self.metrics.errors.inc("internal")
                await asyncio.sleep(0.5)

    async def _step(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake.clear()  # before picking: a wake-up that races with the pick is not lost
        jobs = await self._in_state(self._pick)
        if not jobs:
            self._busy = False
            self._idle.set()
            await self._wake.wait()
            return
        self._busy = True
        self._idle.clear()
        kind = jobs[0].kind
        t0 = time.perf_counter()
        requests = [self.request_factory(j) for j in jobs]
        try:
            results: list[Any | None] = list(
                await loop.run_in_executor(self._decode, self.decoder.decode, requests)
            )
        except Exception:
            log.exception("model call failed for %d %s job(s); retrying one by one", len(jobs), kind)
            self.metrics.errors.inc("model")
            results = []
            for req in requests:
                try:
                    results.extend(await loop.run_in_executor(self._decode, self.decoder.decode, [req]))
                except Exception:
                    log.exception("model call failed again: dropping one %s job", kind)
                    self.metrics.errors.inc("model")
                    results.append(None)
        self.decode_calls += 1
        elapsed = time.perf_counter() - t0
        self.metrics.decode_seconds.labels(kind).observe(elapsed)
        self.metrics.realtime_factor.observe(elapsed / max(sum(j.seconds for j in jobs), 1e-3))
        self.metrics.batch_size.observe(len(jobs))
        async with self.output_lock:
            segments = await self._in_state(self._apply, jobs, results)
            if segments:
                await self.on_segments(segments)
                for seg in segments:
                    self.metrics.segments.labels("final" if seg.is_final else "partial").inc()
        await self._maybe_done({j.stream.call_id for j in jobs})
        self._progress.set()

    def _apply(self, jobs: list[Job], results: list[Any | None]) -> list[SegmentOut]:
        out: list[SegmentOut] = []
        for job, res in zip(jobs, results, strict=True):
            call = self.calls.get(job.stream.call_id)
            if res is None:
                out.extend(job.stream.on_result(job, "", "", [], failed=True))
                continue
            if getattr(res, "dropped", ""):
                self.metrics.dropped.labels(res.dropped).inc()
            if call is not None and call.language is None and res.language:
                if call.observe(res.language, res.language_probability, job.seconds):
                    self.metrics.languages.labels(call.language, "detected").inc()
            out.extend(job.stream.on_result(job, res.text, res.language, res.words))
        return out

    async def _maybe_done(self, call_ids) -> None:
        done = await self._in_state(self._collect_done, list(call_ids))
        for call_id in done:
            if self.on_call_done is not None:
                await self.on_call_done(call_id)

    def _collect_done(self, call_ids: list[str]) -> list[str]:
        done = []
        for call_id in call_ids:
            call = self.calls.get(call_id)
            if call is not None and call.ended and all(s.done for s in call.streams.values()):
                del self.calls[call_id]
                done.append(call_id)
        self.metrics.active_calls.set(len(self.calls))
        return done

    # -- helpers for callers -----------------------------------------------------------
    async def drain(self) -> None:
        """Wait until every queued job (finals and partials) has been decoded."""
        while True:
            self._wake.set()
            await asyncio.sleep(0)
            await self._idle.wait()
            if not await self._in_state(self._has_work):
                return
            await asyncio.sleep(0.01)

    def _has_work(self) -> bool:
        return any(s.closed or s.in_flight for c in self.calls.values() for s in c.streams.values())

    async def wait_pending_below(self, limit: int) -> None:
        """Backpressure for feeders faster than the model: wait until few finals are queued."""
        while await self.pending_finals() > limit:
            self._progress.clear()
            self._wake.set()
            await self._progress.wait()

    async def pending_finals(self) -> int:
        return await self._in_state(
            lambda: sum(len(s.closed) for c in self.calls.values() for s in c.streams.values())
        )

    async def run_in_state(self, fn, *args):
        """Run ``fn`` in the state thread (for snapshots that must see a consistent state)."""
        return await self._in_state(fn, *args)


def _engine_request(job: Job) -> DecodeRequest:
    return DecodeRequest(job.audio, job.language, word_timestamps=True, speech_ratio=job.speech_ratio,
                         domain=job.domain)
