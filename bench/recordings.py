"""Recording sink throughput on the embedded broker: ``python -m bench.recordings``.

Produces CALLS two-channel calls of SECONDS seconds as 200 ms 8 kHz µ-law frames (what
ingest sends), then times the sink's hot path: poll → spool (fsync per poll) → commit (the
FLAC writes at call end run on the same thread and are not separated out here). Prints
frames/s, MB/s and channel-audio seconds spooled per second.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
from prometheus_client import CollectorRegistry

from pipeline.recordings.settings import RecordingSettings
from pipeline.recordings.worker import RecordingSink
from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent
from streams.platform.audio_codec import pcm16_to_mulaw
from streams.platform.broker import EmbeddedBroker
from streams.platform.kafka_clients import ensure_topics, make_producer, start_client

FRAME = 1600  # 200 ms at 8 kHz


async def run(calls: int, seconds: float, fsync: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        settings = RecordingSettings(broker_url=broker.url, broker_embedded=True, data_dir=Path(tmp),
                                     recordings_fsync=fsync, recordings_end_grace_s=0.0, partitions=2,
                                     broker_connect_timeout_s=30)  # type: ignore[call-arg]
        await ensure_topics(settings, [settings.topic_audio, settings.topic_events])
        payload = pcm16_to_mulaw((np.random.default_rng(0).standard_normal(FRAME) * 3000).astype(np.int16))
        n_frames = int(seconds / 0.2)
        producer = make_producer(settings)
        await start_client(producer, settings)
        try:
            futs = []
            for c in range(calls):
                for k in range(n_frames):
                    for ch in ("agent", "customer"):
                        f = AudioFrame(f"bench-{c}", ch, k, k * 0.2, "mulaw", 8000, payload)
                        futs.append(await producer.send(settings.topic_audio, key=f.call_id.encode(), value=f.to_bytes()))
                ev = CallEvent(call_id=f"bench-{c}", kind="ended", ts=time.time())
                futs.append(await producer.send(settings.topic_events, key=ev.call_id.encode(), value=ev.to_bytes()))
            await asyncio.gather(*futs)
        finally:
            await producer.stop()
        total = calls * n_frames * 2
        print(f"produced {total} frames", flush=True)
        sink = RecordingSink(settings, CollectorRegistry())
        await sink.start()
        try:
            t0 = time.perf_counter()
            spooled = 0
            while spooled < total:
                spooled += await sink.step(timeout_ms=200)
                if time.perf_counter() - t0 > 120:
                    raise TimeoutError(f"spooled {spooled} of {total} frames in 120 s")
            t_spool = time.perf_counter() - t0
        finally:
            await sink.close()
        mb = total * (len(payload) + 120) / 1e6
        return {"frames": total, "spool_s": round(t_spool, 2), "frames_per_s": round(total / t_spool),
                "mb_per_s": round(mb / t_spool, 1), "audio_s_per_s": round(total * 0.2 / t_spool)}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.recordings")
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--no-fsync", action="store_true")
    a = p.parse_args()
    print(asyncio.run(run(a.calls, a.seconds, not a.no_fsync)))


if __name__ == "__main__":
    main()
