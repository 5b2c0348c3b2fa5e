"""``callassist emotion``: the live emotion worker (aiokafka, manual commits).

Consumes ``calls.audio`` (bulk bytes: aiokafka, not Faust) and ``calls.events``, analyses
audio in an executor thread (features + ONNX never run on the event loop), produces
``calls.emotion`` records keyed by call_id, and commits the consumed offsets only after
the broker acknowledged every record produced from them (at-least-once; duplicates are
dropped by (call_id, channel, seq) here and by window_id downstream).

Scaling: one worker analyses on one core; run more workers in the same consumer group
(calls.audio partitions are keyed by call_id, so a call's state lives in one worker).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from models.emotion.model import EmotionModel
from pipeline.emotion.engine import EmotionEngine, EngineConfig
from pipeline.emotion.metrics import EmotionMetrics
from pipeline.emotion.settings import EmotionSettings
from pipeline.emotion.tracker import StateConfig
from streams.contract.audio import AudioFrame
from streams.contract.codec import RecordDecodeError, decode
from streams.contract.records import CallEvent, EmotionReading
from streams.platform.kafka_clients import ensure_topics, make_consumer, make_producer, start_client
from streams.platform.lag import ConsumerLag
from streams.platform.lag import stop as lag_stop

log = logging.getLogger(__name__)


def engine_config(settings: EmotionSettings) -> EngineConfig:
    return EngineConfig(
        idle_timeout_s=settings.emotion_idle_timeout_s,
        end_grace_s=settings.emotion_end_grace_s,
        max_calls=settings.emotion_max_calls,
        state=StateConfig(alpha=settings.emotion_smoothing, min_windows=settings.emotion_min_windows),
    )


def decode_input(
    metrics: EmotionMetrics, topic_audio: str, topic: str, value: bytes | None, where: str = ""
) -> AudioFrame | CallEvent | None:
    """Decode one polled record; a malformed one is logged, counted and skipped (None)."""
    kind = "audio" if topic == topic_audio else "events"
    try:
        rec: AudioFrame | CallEvent = AudioFrame.from_bytes(value) if kind == "audio" else decode(CallEvent, value)
    except RecordDecodeError as exc:
        metrics.records.labels(kind, "bad").inc()
        metrics.malformed.labels(topic).inc()
        metrics.errors.inc("malformed_record")
        log.warning("skipping bad %s record at %s: %s", kind, where, exc)
        return None
    metrics.records.labels(kind, "ok").inc()
    return rec


class EmotionWorker:
    def __init__(self, settings: EmotionSettings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.metrics = EmotionMetrics(registry)
        self.model = EmotionModel(settings.emotion_model_dir, threads=settings.emotion_threads)
        self.engine: EmotionEngine | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emotion")
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._stop = asyncio.Event()
        self._ready = False
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
        # explicit model load at start (off the loop: it reads and checks files)
        await loop.run_in_executor(self._executor, self.model.load)
        self.engine = EmotionEngine(self.model, engine_config(s))
        if s.create_topics:
            await ensure_topics(s, [s.topic_audio, s.topic_events, s.topic_emotion])
        producer = make_producer(s)
        await start_client(producer, s)
        consumer = make_consumer(
            s, s.emotion_group_id, s.topic_audio, s.topic_events, max_poll_records=s.emotion_max_poll_records
        )
        try:
            await start_client(consumer, s)
        except Exception:
            await producer.stop()
            raise
        self._producer, self._consumer = producer, consumer
        self._lag_task = self.lag.start_aiokafka(consumer)
        self._ready = True
        log.info("emotion worker consuming %s and %s", s.topic_audio, s.topic_events)

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                await self.step()
        finally:
            await self.close()

    async def step(self, timeout_ms: int = 200) -> int:
        """One poll -> analyse -> produce -> commit cycle; returns the readings produced."""
        assert self._consumer is not None and self._producer is not None and self.engine is not None
        batches = await self._consumer.getmany(timeout_ms=timeout_ms)
        frames: list[AudioFrame] = []
        ended: list[str] = []
        for tp, msgs in batches.items():
            for msg in msgs:
                rec = decode_input(self.metrics, self.settings.topic_audio, tp.topic, msg.value, f"{tp}:{msg.offset}")
                if isinstance(rec, AudioFrame):
                    frames.append(rec)
                    self.metrics.audio_seconds.labels(rec.channel).inc(rec.duration)
                elif isinstance(rec, CallEvent) and rec.kind == "ended":
                    ended.append(rec.call_id)
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        dups = self.engine.stats.duplicates
        readings = await loop.run_in_executor(self._executor, self._analyse, frames, ended)
        if frames:
            self.metrics.batch_seconds.observe(time.perf_counter() - t0)
        if self.engine.stats.duplicates > dups:
            self.metrics.records.labels("audio", "duplicate").inc(self.engine.stats.duplicates - dups)
            self.metrics.frames_dropped.labels("duplicate").inc(self.engine.stats.duplicates - dups)
        await self._produce(readings, frames)
        if batches:
            await self._consumer.commit()  # only after every output was acknowledged
        self.metrics.active_calls.set(len(self.engine.calls))
        self.metrics.calls_now.set(len(self.engine.calls))
        return len(readings)

    def _analyse(self, frames: list[AudioFrame], ended: list[str]) -> list[EmotionReading]:
        # runs in the executor thread; the engine is only ever touched from this one thread
        assert self.engine is not None
        silent0 = self.engine.stats.windows_silent
        voiced0 = self.engine.stats.windows_voiced
        out = self.engine.process(frames)
        for cid in ended:
            self.engine.end_call(cid)
        out += self.engine.housekeeping()
        self.metrics.windows.labels("silent").inc(self.engine.stats.windows_silent - silent0)
        self.metrics.windows.labels("voiced").inc(self.engine.stats.windows_voiced - voiced0)
        return out

    async def _produce(self, readings: list[EmotionReading], frames: list[AudioFrame]) -> None:
        assert self._producer is not None
        futures = []
        for r in readings:
            try:  # strict wire contract on the way out too: a NaN feature must not stall the worker
                value = r.to_bytes()
                decode(EmotionReading, value)
            except (ValueError, RecordDecodeError) as exc:
                self.metrics.records.labels("reading", "unencodable").inc()
                log.warning("skipping an emotion reading that breaks the wire contract (%s): %s", r.window_id, exc)
                continue
            futures.append(await self._producer.send(self.settings.topic_emotion, key=r.call_id.encode(), value=value))
            self.metrics.readings.labels(r.channel, r.state).inc()
        if futures:
            await asyncio.gather(*futures)  # raises KafkaError: nothing is committed then
        captured = max((f.captured_at for f in frames), default=0.0)
        if readings and captured > 0:
            self.metrics.lag_seconds.observe(max(0.0, time.time() - captured))

    async def close(self) -> None:
        """Stop the clients and the executor; idempotent (run() closes, then run_service's stop())."""
        self._ready = False
        await lag_stop(self._lag_task)
        self._lag_task = None
        for client in (self._consumer, self._producer):
            if client is not None:
                try:
                    await client.stop()
                except KafkaError as exc:  # shutting down anyway
                    log.warning("error stopping a Kafka client: %s", exc)
        self._consumer = self._producer = None
        self._executor.shutdown(wait=True)
