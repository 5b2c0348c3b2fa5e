"""Benchmarks of ``callassist streams``: quality on the annotated set, and speed.

    python -m bench.streams_stage quality              # alert P/R, KB top-1/top-3, strategies (dev, heldout)
    python -m bench.streams_stage quality --set tests/data/real_asr   # the same on real ASR transcripts
    python -m bench.streams_stage engine [--rounds N]  # in-process assist pipeline: segments/s, ms per segment
    python -m bench.streams_stage broker [--rate R] [--count N] [--burst M]
        # a real Faust worker process on the embedded broker:
        #  latency: transcript record produced -> alert record received (p50/p95) at R segments/s
        #  throughput: M records produced at once -> all processed (records/s per worker)

Every command prints one JSON object.  Numbers depend on the machine; say which one (and
whether the CPU was shared) when you quote them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from streams.assist.assistant import Assistant  # noqa: E402
from streams.assist.callstate import CallState  # noqa: E402
from streams.assist.check import evaluate_dir, read_transcript  # noqa: E402

DIALOGUES = REPO / "tests" / "data" / "dialogues"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "load_avg_1m": os.getloadavg()[0]}


# ---------------------------------------------------------------------------
def cmd_quality(args: argparse.Namespace) -> dict[str, Any]:
    a = Assistant.from_files()
    out: dict[str, Any] = {"kb_version": a.kb.current.version, "rules_version": a.rules.current.version,
                           "set": str(args.set)}
    splits: tuple[str | None, ...] = ("dev", "heldout", None) if Path(args.set) == DIALOGUES else (None,)
    for split in splits:
        r = evaluate_dir(a, args.set, split)
        out[split or "all"] = {
            "dialogues": r["dialogues"], "segments": r["segments"],
            "alerts": {k: r["alerts"][k] for k in ("gold", "predicted", "true_positive", "precision", "recall",
                                                    "false_positives", "false_negatives", "violations",
                                                    "violation_precision", "violation_recall", "checks",
                                                    "checks_right", "false_alerts_per_call")},
            "kb": {k: v for k, v in r["kb"].items() if k != "top3_misses"},
            "strategies": r["strategies"],
        }
    return out


# ---------------------------------------------------------------------------
def cmd_engine(args: argparse.Namespace) -> dict[str, Any]:
    a = Assistant.from_files()
    calls = []
    for path in sorted(DIALOGUES.glob("*.jsonl")):
        items, _ = read_transcript(path.read_text(encoding="utf-8").splitlines(), str(path))
        calls.append([it for it in items if it.kind == "segment"])
    per_segment: list[float] = []
    t_start = time.perf_counter()
    n = 0
    for r in range(args.rounds):
        for i, segs in enumerate(calls):
            st = CallState(f"bench-{r}-{i}")
            for it in segs:
                t0 = time.perf_counter()
                a.on_segment(st, it.payload)
                per_segment.append(time.perf_counter() - t0)
                n += 1
            a.on_event(st, "ended", duration=st.call_time)
    wall = time.perf_counter() - t_start
    return {
        "what": "in-process Assistant.on_segment over the annotated dialogues (KB + rules + strategy)",
        "segments": n, "segments_per_s": round(n / wall, 1),
        "ms_per_segment_p50": round(1000 * pct(per_segment, 50), 3),
        "ms_per_segment_p95": round(1000 * pct(per_segment, 95), 3),
        "machine": machine(),
    }


# ---------------------------------------------------------------------------
def _metric_total(url: str) -> float:
    """Sum of callassist_streams_records_total (every input record the worker handled)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return 0.0
    return sum(float(v) for v in re.findall(r"^callassist_streams_records_total\{[^}]*\} ([0-9.e+]+)$", text, re.M))


def cmd_broker(args: argparse.Namespace) -> dict[str, Any]:
    from streams.platform.broker import EmbeddedBroker, free_port
    from streams.platform.kafka_clients import ensure_topics
    from streams.platform.stream_settings import StreamsSettings

    broker = EmbeddedBroker()
    broker.start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-streams-"))
    sfx = uuid.uuid4().hex[:6]
    base = StreamsSettings()
    values: dict[str, Any] = {n: f"{getattr(base, n)}.{sfx}" for n in StreamsSettings.model_fields
                              if n.startswith("topic_")}
    values.update(broker_url=broker.url, broker_embedded=True, partitions=args.partitions, data_dir=tmp,
                  streams_app_id=f"bench-streams-{sfx}", metrics_port=free_port(), log_level="WARNING")
    s = StreamsSettings(**values)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLASSIST_")}
    env.update({f"CALLASSIST_{k.upper()}": str(v) for k, v in s.model_dump().items()})
    env["PYTHONPATH"] = str(REPO)
    proc = None
    try:
        asyncio.run(ensure_topics(s))
        with open(tmp / "worker.log", "wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "streams.cli", "run"], env=env, cwd=REPO,
                                    stdout=log, stderr=subprocess.STDOUT)
            try:
                return asyncio.run(_broker_bench(args, s, proc, tmp / "worker.log"))
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    finally:
        broker.stop()


async def _broker_bench(args: argparse.Namespace, s: Any, proc: subprocess.Popen, log_path: Path) -> dict[str, Any]:
    from streams.contract.codec import decode
    from streams.contract.records import Alert, TranscriptSegment
    from streams.platform.kafka_clients import make_consumer, make_producer, start_client

    producer = make_producer(s, linger_ms=0)
    consumer = make_consumer(s, None, s.topic_alerts)
    await start_client(producer, s)
    await start_client(consumer, s)
    metrics_url = f"http://{s.metrics_host}:{s.metrics_port}/metrics"

    async def processed() -> float:
        return await asyncio.to_thread(_metric_total, metrics_url)

    def segment(call: str, n: int, text: str) -> bytes:
        return TranscriptSegment(call_id=call, channel="agent", segment_id=f"{call}:{n}", is_final=True,
                                 start=float(n), end=n + 2.0, text=text, language="zh",
                                 produced_at=time.time()).to_bytes()

    try:
        # warm-up: wait until the worker answers at all
        deadline = time.monotonic() + 120
        warm = False
        while not warm:
            assert proc.poll() is None, f"worker exited, see {log_path}"
            assert time.monotonic() < deadline, "worker did not start"
            await producer.send_and_wait(s.topic_transcripts, segment("warm", 0, "保本保息"), key=b"warm")
            batch = await consumer.getmany(timeout_ms=1000)
            warm = any(batch.values())
        await asyncio.sleep(1.0)
        await consumer.getmany(timeout_ms=200)

        # latency: one alert-triggering segment per call, at a steady rate; a separate task
        # receives alerts so the receive time is not delayed by the sending loop
        sent: dict[str, float] = {}
        latencies: list[float] = []
        worker_side: list[float] = []
        stop = asyncio.Event()

        async def collect() -> None:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=100)
                now = time.time()
                for msgs in batch.values():
                    for m in msgs:
                        a = decode(Alert, m.value)
                        if a.call_id in sent and a.rule_id == "AG_GUARANTEED_RETURN":
                            latencies.append(now - a.source_produced_at)
                            worker_side.append(a.produced_at - a.source_produced_at)

        collector = asyncio.create_task(collect())
        interval = 1.0 / args.rate
        for i in range(args.count):
            call = f"lat-{i}"
            sent[call] = time.time()
            await producer.send_and_wait(s.topic_transcripts, segment(call, 1, "您好，这个产品保本保息，稳赚不赔"),
                                         key=call.encode())
            await asyncio.sleep(interval)
        deadline = time.monotonic() + 30
        while len(latencies) < args.count and time.monotonic() < deadline:  # noqa: ASYNC110 - polling
            await asyncio.sleep(0.1)
        stop.set()
        await collector

        # throughput: a burst over many calls, then time until the worker processed them all
        base_count = await processed()
        texts = ["您好，请问有什么可以帮您", "我想问一下保费怎么交", "I had a car accident how do I file a claim",
                 "这个产品保本保息", "请提供身份证后四位核实身份", "your premium went up because of the claim"]
        t0 = time.perf_counter()
        futures = []
        for i in range(args.burst):
            call = f"tp-{i % 200}"
            futures.append(await producer.send(s.topic_transcripts, segment(call, i, texts[i % len(texts)]),
                                               key=call.encode()))
        await asyncio.gather(*futures)
        produced_in = time.perf_counter() - t0
        deadline = time.monotonic() + 300
        done = 0.0
        while done < args.burst and time.monotonic() < deadline:  # the worker's own /metrics count
            await asyncio.sleep(0.2)
            done = await processed() - base_count
        elapsed = time.perf_counter() - t0
    finally:
        await consumer.stop()
        await producer.stop()
    return {
        "what": "one Faust worker process (embedded Tansu broker, quirks on); CPU shared with the producer/consumer",
        "latency": {
            "segments": args.count, "alerts_received": len(latencies), "rate_per_s": args.rate,
            "transcript_to_alert_received_ms_p50": round(1000 * pct(latencies, 50), 1),
            "transcript_to_alert_received_ms_p95": round(1000 * pct(latencies, 95), 1),
            "transcript_to_alert_produced_ms_p50": round(1000 * pct(worker_side, 50), 1),
            "transcript_to_alert_produced_ms_p95": round(1000 * pct(worker_side, 95), 1),
            "mean_ms": round(1000 * statistics.fmean(latencies), 1) if latencies else None,
        },
        "throughput": {
            "records": args.burst, "processed": int(done), "produce_s": round(produced_in, 2),
            "elapsed_s": round(elapsed, 2), "records_per_s_per_worker": round(done / elapsed, 1),
            "partitions": args.partitions,
        },
        "machine": machine(),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality")
    q.add_argument("--set", default=str(DIALOGUES),
                   help="annotated set (a folder with manifest.yaml), e.g. tests/data/real_asr")
    e = sub.add_parser("engine")
    e.add_argument("--rounds", type=int, default=3)
    b = sub.add_parser("broker")
    b.add_argument("--rate", type=float, default=20.0, help="segments per second for the latency run")
    b.add_argument("--count", type=int, default=200, help="segments in the latency run")
    b.add_argument("--burst", type=int, default=3000, help="records in the throughput run")
    b.add_argument("--partitions", type=int, default=4)
    args = p.parse_args()
    result = {"quality": cmd_quality, "engine": cmd_engine, "broker": cmd_broker}[args.cmd](args)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
