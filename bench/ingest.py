"""How many simultaneous real-time calls one ingest gateway process sustains, with CPU and lag.

    .venv/bin/python -m bench.ingest [--calls 50,100,200] [--mode binary|twilio] [--chunk-ms 20]
                                           [--window 15] [--warmup 5]

Starts the embedded broker and a gateway process (`python -m pipeline.cli ingest`), then for
each load level opens N calls that stream the real two-channel recording in real time (both
channels; binary frames or Twilio Media Streams JSON, in ``--chunk-ms`` messages with random
phases), and measures over a steady window:
- gateway CPU (% of one core; the gateway is one asyncio thread, so 100% is its ceiling),
  broker CPU, this process's CPU (load generator + consumer), and the whole machine's;
- lag: from the moment a frame's last sample was sent by the client (its real-time schedule)
  to the moment a consumer of calls.audio receives the frame — p50/p95/p99/max;
- generator lateness (is the load really real time?), dropped frames, errors, gateway RSS.
A level counts as sustained when lag p99 < 1 s, the generator stays on schedule (p99 lateness
< 100 ms), every frame arrives and nothing is dropped.  The machine is shared: the "machine
CPU" column shows how busy the other tenants kept it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streams.contract.audio import AudioFrame  # noqa: E402
from streams.platform.audio_codec import pcm16_to_mulaw  # noqa: E402
from streams.platform.broker import EmbeddedBroker, free_port  # noqa: E402
from streams.platform.kafka_clients import make_consumer, start_client  # noqa: E402
from streams.platform.settings import CommonSettings  # noqa: E402

CALL = REPO.parent / "shared" / "data" / "calls"
TOKEN = "bench-token-0123456789"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def machine_busy() -> tuple[float, float]:
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def metric_values(port: int) -> dict[str, float]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("callassist_ingest_") and not line.startswith("#"):
            name, _, val = line.rpartition(" ")
            out[name] = float(val)
    return out


def load_audio(mode: str, chunk_ms: int) -> dict[str, list[Any]]:
    """The real call as per-channel message bodies of ``chunk_ms`` (precomputed: the generator is cheap)."""
    chans: dict[str, list[Any]] = {}
    for ch, name in (("agent", "auto_repairs_40_agent.wav"), ("customer", "auto_repairs_40_caller.wav")):
        pcm = sf.read(CALL / name, dtype="int16")[0]
        mu = pcm16_to_mulaw(pcm)
        n = 8 * chunk_ms
        chunks = [mu[i : i + n] for i in range(0, len(mu) - n + 1, n)]
        if mode == "twilio":
            chans[ch] = [base64.b64encode(c).decode() for c in chunks]
        else:
            prefix = b"\x00" if ch == "agent" else b"\x01"
            chans[ch] = [prefix + c for c in chunks]
    return chans


@dataclass
class Stats:
    lags: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    frames: int = 0
    errors: list[str] = field(default_factory=list)
    t0: dict[str, float] = field(default_factory=dict)  # call id -> epoch of call time 0
    measuring: bool = False


async def run_call(url: str, call_id: str, mode: str, chunk_ms: int, audio: dict[str, list], stats: Stats,
                   stop: asyncio.Event) -> None:  # fmt: skip
    from websockets.asyncio.client import connect

    async with connect(url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, compression=None) as ws:
        if mode == "twilio":
            start = {"event": "start", "streamSid": call_id, "start": {
                "callSid": call_id, "streamSid": call_id, "tracks": ["inbound", "outbound"],
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                "customParameters": {"agent_id": "bench"}}}  # fmt: skip
            await ws.send(json.dumps(start))
        else:
            await ws.send(json.dumps({"type": "open", "call_id": call_id, "agent_id": "bench",
                                      "format": {"encoding": "mulaw", "sample_rate": 8000}}))  # fmt: skip
            reply = json.loads(await ws.recv())
            if reply.get("type") != "opened":
                stats.errors.append(str(reply))
                return
        loop = asyncio.get_running_loop()
        await asyncio.sleep(random.random() * chunk_ms / 1000)  # random phase, like independent calls
        t0_loop, t0_wall = loop.time(), time.time()
        stats.t0[call_id] = t0_wall
        offset = random.randrange(len(audio["agent"]) // 2)
        i = 0
        while not stop.is_set():
            due = t0_loop + (i + 1) * chunk_ms / 1000
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif stats.measuring:
                stats.late.append(-delay)
            k = (offset + i) % len(audio["agent"])
            if mode == "twilio":
                for track, ch in (("inbound", "customer"), ("outbound", "agent")):
                    await ws.send(
                        f'{{"event":"media","streamSid":"{call_id}","sequenceNumber":"{i}","media":{{"track":"{track}",'
                        f'"chunk":"{i}","timestamp":"{i * chunk_ms}","payload":"{audio[ch][k]}"}}}}'
                    )
            else:
                await ws.send(audio["agent"][k])
                await ws.send(audio["customer"][k])
            i += 1
        if mode == "twilio":
            await ws.send(json.dumps({"event": "stop", "streamSid": call_id}))
        else:
            await ws.send('{"type":"close"}')
        try:
            await asyncio.wait_for(ws.wait_closed(), 10)
        except TimeoutError:
            stats.errors.append(f"{call_id}: no close")


async def consume(settings: CommonSettings, stats: Stats, stop: asyncio.Event) -> None:
    consumer = make_consumer(settings, None, settings.topic_audio, auto_offset_reset="latest")
    await start_client(consumer, settings)
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            if not stats.measuring:
                continue
            for records in batches.values():
                for rec in records:
                    f = AudioFrame.from_bytes(rec.value)
                    t0 = stats.t0.get(f.call_id)
                    if t0 is not None:
                        stats.lags.append(now - (t0 + f.end))
                        stats.frames += 1
    finally:
        await consumer.stop()


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


async def level(n: int, args: argparse.Namespace, url: str, settings: CommonSettings, gw_pid: int,
                broker_pid: int, metrics_port: int, audio: dict[str, list]) -> dict:  # fmt: skip
    stats, stop_calls, stop_consumer = Stats(), asyncio.Event(), asyncio.Event()
    consumer = asyncio.create_task(consume(settings, stats, stop_consumer))
    await asyncio.sleep(1.0)
    calls = []
    tag = uuid.uuid4().hex[:6]
    for i in range(n):  # ramp up over ~2 s
        calls.append(
            asyncio.create_task(
                run_call(url, f"bench-{tag}-{i}", args.mode, args.chunk_ms, audio, stats, stop_calls)
            )
        )
        await asyncio.sleep(2.0 / n)
    await asyncio.sleep(args.warmup)
    m0 = metric_values(metrics_port)
    gw0, br0, me0, (busy0, tot0), w0 = (
        cpu_seconds(gw_pid),
        cpu_seconds(broker_pid),
        cpu_seconds(os.getpid()),
        machine_busy(),
        time.monotonic(),
    )
    stats.measuring = True
    await asyncio.sleep(args.window)
    stats.measuring = False
    gw1, br1, me1, (busy1, tot1), w1 = (
        cpu_seconds(gw_pid),
        cpu_seconds(broker_pid),
        cpu_seconds(os.getpid()),
        machine_busy(),
        time.monotonic(),
    )
    m1 = metric_values(metrics_port)
    rss = rss_mb(gw_pid)
    stop_calls.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    stats.errors += [repr(r) for r in results if isinstance(r, BaseException)]
    await asyncio.sleep(1.0)
    stop_consumer.set()
    await consumer
    wall = w1 - w0
    dropped = sum(
        v - m0.get(k, 0.0) for k, v in m1.items() if k.startswith("callassist_ingest_dropped_frames_total")
    )
    errors = sum(v - m0.get(k, 0.0) for k, v in m1.items() if k.startswith("callassist_ingest_errors_total"))
    expected = n * 2 * wall / 0.2  # frames per window at 200 ms per channel
    row = {
        "calls": n, "mode": args.mode, "chunk_ms": args.chunk_ms,
        "msgs_per_s": round(n * 2 * 1000 / args.chunk_ms),
        "gateway_cpu_pct": round(100 * (gw1 - gw0) / wall, 1),
        # CPU the gateway spent per second of one call (both channels): 1000 / this = calls per free core
        "gateway_cpu_ms_per_call_s": round(1000 * (gw1 - gw0) / wall / n, 2),
        "broker_cpu_pct": round(100 * (br1 - br0) / wall, 1),
        "loadgen_cpu_pct": round(100 * (me1 - me0) / wall, 1),
        "machine_cpu_pct": round(100 * (busy1 - busy0) / max(1, tot1 - tot0), 1),
        "gateway_rss_mb": round(rss, 1),
        "lag_p50_ms": round(1000 * pct(stats.lags, 50), 1), "lag_p95_ms": round(1000 * pct(stats.lags, 95), 1),
        "lag_p99_ms": round(1000 * pct(stats.lags, 99), 1),
        "lag_max_ms": round(1000 * max(stats.lags), 1) if stats.lags else None,
        "gen_late_p99_ms": round(1000 * pct(stats.late, 99), 1) if stats.late else 0.0,
        "frames_seen_ratio": round(stats.frames / expected, 3),
        "dropped": dropped, "gateway_errors": errors, "client_errors": len(stats.errors),
    }  # fmt: skip
    row["sustained"] = bool(
        stats.lags and row["lag_p99_ms"] < 1000 and row["gen_late_p99_ms"] < 100 and dropped == 0
        and errors == 0 and not stats.errors and row["frames_seen_ratio"] > 0.97
    )  # fmt: skip
    if stats.errors:
        row["first_error"] = stats.errors[0][:200]
    return row


async def run_levels(args: argparse.Namespace, settings: CommonSettings, gw_pid: int, broker_pid: int,
                     port: int, metrics_port: int) -> None:  # fmt: skip
    audio = load_audio(args.mode, args.chunk_ms)
    url = f"ws://127.0.0.1:{port}/calls"
    for n in args.calls:
        row = await level(n, args, url, settings, gw_pid, broker_pid, metrics_port, audio)
        row["loadavg_1m"] = loadavg()
        print(json.dumps(row), flush=True)
        await asyncio.sleep(2)


def loadavg() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run(args: argparse.Namespace) -> None:
    with EmbeddedBroker() as broker:
        suffix = uuid.uuid4().hex[:6]
        settings = CommonSettings(broker_url=broker.url, broker_embedded=True, partitions=4,
                                  topic_audio=f"calls.audio.bench{suffix}", topic_events=f"calls.events.bench{suffix}")  # fmt: skip
        port, metrics_port = free_port(), free_port()
        env = dict(os.environ, CALLASSIST_BROKER_URL=broker.url, CALLASSIST_BROKER_EMBEDDED="true",
                   CALLASSIST_TOPIC_AUDIO=settings.topic_audio, CALLASSIST_TOPIC_EVENTS=settings.topic_events,
                   CALLASSIST_PARTITIONS="4", CALLASSIST_INGEST_PORT=str(port), CALLASSIST_INGEST_TOKENS=TOKEN,
                   CALLASSIST_METRICS_PORT=str(metrics_port), CALLASSIST_LOG_LEVEL="WARNING",
                   CALLASSIST_INGEST_MAX_CALLS="5000")  # fmt: skip
        profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
        gw = subprocess.Popen([sys.executable, *profile, "-m", "pipeline.cli", "ingest"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            assert gw.stdout is not None
            line = gw.stdout.readline()  # the gateway prints one line once it listens (topics created)
            if "listening" not in line:
                raise SystemExit(f"gateway did not start: {line!r}")
            print(f"# {os.cpu_count()} CPUs shared with other tenants; loadavg {loadavg()}; {vars(args)}")
            asyncio.run(run_levels(args, settings, gw.pid, broker.pid or 0, port, metrics_port))
        finally:
            gw.send_signal(signal.SIGTERM)
            gw.wait(30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", default="50,100,200", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--mode", choices=("binary", "twilio"), default="binary")
    p.add_argument("--chunk-ms", type=int, default=20, help="audio per message per channel (Twilio: 20)")
    p.add_argument("--window", type=float, default=15.0, help="measured seconds per level")
    p.add_argument("--warmup", type=float, default=5.0)
    p.add_argument("--profile", default="", help="write a cProfile of the gateway process to this file")
    args = p.parse_args()
    run(args)


if __name__ == "__main__":
    main()
