"""Emotion worker benchmark: feature cost per audio second, model cost, streams per worker.

    .venv/bin/python -m bench.emotion [--seconds 60] [--kafka] [--compare-pyin]

1. features: CPU time of models.emotion.features.extract per 3 s window (the worker computes
   one window per hop, i.e. per second of each stream), split into pitch and the rest;
2. model: onnxruntime time per window;
3. engine: the sample call (both channels, µ-law 8 kHz frames, as ingest sends them) through
   EmotionEngine — decode, resample, windows, features, baseline, model, smoothing — CPU
   seconds per audio second; a worker has one analysis thread, so it keeps up with
   1 / that many live streams (one channel = one stream);
4. --kafka: the same audio for N calls pushed through a real embedded broker and the real
   worker, timing until every reading is out (audio seconds per wall second).
CPU is shared with other processes on this machine: numbers are CPU time where possible.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import cast

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from models.emotion import features as F  # noqa: E402
from models.emotion.model import EmotionModel  # noqa: E402
from pipeline.emotion.engine import EmotionEngine  # noqa: E402
from streams.contract.audio import AudioFrame  # noqa: E402
from streams.contract.vocab import Channel  # noqa: E402
from streams.platform.audio_codec import pcm16_to_mulaw  # noqa: E402

CALLS = REPO.parent / "shared" / "data" / "calls"


def _load(seconds: float) -> tuple[dict[str, np.ndarray], int]:
    out = {}
    sr = 8000
    for ch, name in (("customer", "auto_repairs_40_caller.wav"), ("agent", "auto_repairs_40_agent.wav")):
        y, sr = sf.read(CALLS / name, dtype="float32")
        out[ch] = y[: int(seconds * sr)]
    return out, sr


def _frames(call_id: str, channels: dict[str, np.ndarray], sr: int, frame_s: float = 0.2) -> list[AudioFrame]:
    frames = []
    n = int(frame_s * sr)
    for ch, y in channels.items():
        pcm = (np.clip(y, -1, 1) * 32767).astype(np.int16)
        frames += [
            AudioFrame(call_id, cast(Channel, ch), k, i / sr, "mulaw", sr, pcm16_to_mulaw(pcm[i : i + n]), captured_at=time.time())
            for k, i in enumerate(range(0, pcm.size, n))
        ]
    return sorted(frames, key=lambda f: (f.start, f.channel))


def bench_features(channels: dict[str, np.ndarray], sr: int, compare_pyin: bool) -> dict[str, float]:
    y = np.concatenate(list(channels.values()))
    bounds = F.window_bounds(y.size, sr)[3:]  # full 3 s windows
    F.extract(y[: 3 * sr], sr)  # warm-up (librosa/numba caches)
    t0 = time.process_time()
    voiced = 0
    for a, b in bounds:
        voiced += F.extract(y[a:b], sr).vector is not None
    per_window = (time.process_time() - t0) / len(bounds)
    z = F.to_canonical(y[: 60 * sr], sr)
    t0 = time.process_time()
    for a, b in bounds[:60]:
        F._pitch(z[a:b] if b <= z.size else z[-3 * sr :], (b - a) // F.HOP + 1)
    pitch = (time.process_time() - t0) / min(60, len(bounds))
    out = {
        "windows": len(bounds),
        "voiced_windows": voiced,
        "cpu_ms_per_window_3s": round(1000 * per_window, 2),
        "cpu_ms_per_audio_second_live(hop 1 s)": round(1000 * per_window / F.HOP_S, 2),
        "cpu_ms_per_audio_second_single_pass": round(1000 * per_window / F.WINDOW_S, 2),
        "pitch_cpu_ms_per_window_3s(praat)": round(1000 * pitch, 2),
    }
    if compare_pyin:
        import librosa

        t0 = time.process_time()
        for a, b in bounds[:10]:
            librosa.pyin(z[a:b], fmin=F.FMIN, fmax=F.FMAX, sr=F.SAMPLE_RATE, frame_length=512, hop_length=F.HOP)
        out["pitch_cpu_ms_per_window_3s(pyin)"] = round(1000 * (time.process_time() - t0) / 10, 2)
    return out


def bench_model(model: EmotionModel) -> dict[str, float]:
    z = np.random.default_rng(0).standard_normal((1, F.N_FEATURES)).astype(np.float32)
    for _ in range(50):
        model.predict(z)
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        model.predict(z)
    return {"onnx_ms_per_window": round(1000 * (time.perf_counter() - t0) / n, 4)}


def bench_engine(model: EmotionModel, channels: dict[str, np.ndarray], sr: int) -> dict[str, float]:
    frames = _frames("bench", channels, sr)
    audio_s = sum(y.size for y in channels.values()) / sr
    runs = []
    for _ in range(3):
        engine = EmotionEngine(model)
        t0, w0 = time.process_time(), time.perf_counter()
        readings = engine.process(frames) + engine.flush_call("bench")
        runs.append((time.process_time() - t0, time.perf_counter() - w0, len(readings)))
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    per_s = cpu / audio_s
    return {
        "audio_seconds(both channels)": round(audio_s, 1),
        "readings": runs[0][2],
        "cpu_ms_per_audio_second": round(1000 * per_s, 2),
        "wall_ms_per_audio_second(shared CPU)": round(1000 * wall / audio_s, 2),
        "streams_per_worker(1 analysis thread, CPU-bound)": int(1.0 / per_s),
        "streams_per_worker_at_70pct_load": int(0.7 / per_s),
    }


async def bench_kafka(model_dir: Path, channels: dict[str, np.ndarray], sr: int, calls: int) -> dict[str, float]:
    import uuid

    from pipeline.emotion.settings import EmotionSettings
    from pipeline.emotion.worker import EmotionWorker
    from streams.contract.records import CallEvent
    from streams.platform.broker import EmbeddedBroker
    from streams.platform.kafka_clients import ensure_topics, make_consumer, make_producer, start_client

    with EmbeddedBroker() as broker:
        sfx = uuid.uuid4().hex[:6]
        s = EmotionSettings(
            broker_url=broker.url, broker_embedded=True, partitions=2, emotion_model_dir=model_dir,
            topic_audio=f"calls.audio.{sfx}", topic_events=f"calls.events.{sfx}", topic_emotion=f"calls.emotion.{sfx}",
            emotion_end_grace_s=0.2,
        )  # fmt: skip
        await ensure_topics(s, [s.topic_audio, s.topic_events, s.topic_emotion])
        producer = make_producer(s)
        await start_client(producer, s)
        audio_s = 0.0
        for c in range(calls):
            frames = _frames(f"bench-{c}", channels, sr)
            audio_s += sum(f.duration for f in frames)
            for f in frames:
                await producer.send(s.topic_audio, key=f.call_id.encode(), value=f.to_bytes())
            ev = CallEvent(call_id=f"bench-{c}", kind="ended", ts=time.time())
            await producer.send(s.topic_events, key=ev.call_id.encode(), value=ev.to_bytes())
        await producer.flush()
        await producer.stop()
        worker = EmotionWorker(s)
        await worker.start()
        t0, c0 = time.perf_counter(), time.process_time()
        task = asyncio.create_task(worker.run())
        consumer = make_consumer(s, None, s.topic_emotion)
        await start_client(consumer, s)
        expected = None
        got = 0
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            got += sum(len(m) for m in batches.values())
            if worker.engine is not None and not worker.engine.calls and worker.engine.stats.frames > 0:
                expected = worker.engine.stats.readings
            if expected is not None and got >= expected:
                break
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        worker.request_stop()
        await task
        await consumer.stop()
    return {
        "calls": calls,
        "audio_seconds": round(audio_s, 1),
        "readings": got,
        "wall_s": round(wall, 2),
        "process_cpu_s": round(cpu, 2),
        "audio_seconds_per_wall_second(= live streams kept up with)": round(audio_s / wall, 1),
        "audio_seconds_per_cpu_second": round(audio_s / cpu, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="seconds of the sample call per channel")
    ap.add_argument("--kafka", action="store_true", help="also run through a real embedded broker + worker")
    ap.add_argument("--calls", type=int, default=4, help="calls pushed through the broker with --kafka")
    ap.add_argument("--compare-pyin", action="store_true")
    args = ap.parse_args()
    channels, sr = _load(args.seconds)
    model = EmotionModel().load()
    result = {
        "note": "2 shared CPU cores (other processes running); CPU-time numbers are per thread",
        "features": bench_features(channels, sr, args.compare_pyin),
        "model": bench_model(model),
        "engine": bench_engine(model, channels, sr),
    }
    if args.kafka:
        result["kafka_worker"] = asyncio.run(bench_kafka(model.model_dir, channels, sr, args.calls))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
