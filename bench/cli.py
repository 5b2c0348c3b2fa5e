"""``callassist bench``: the whole pipeline under N concurrent live calls, on the embedded defaults.

    callassist bench [--calls 1,2,4] [--seconds 60] [--speed 1] [--out bench/results]
    callassist bench soak [--hours 8] [--lines 2]     (see bench/soak.py)

Starts everything as ``callassist demo`` does (embedded broker, every component as its own
process), then for each load level replays N copies of the bundled real sample call
(``pipeline/samples/auto_repairs_40_{agent,caller}.wav``, cut to its first ``--seconds``)
concurrently through the ingest gateway's websocket, each as its own call, and measures:

- word→screen latency: receive time of each transcript update on the agent's socket minus
  the capture time of the audio of its last word (``TranscriptSegment.audio_end_at``),
  partials and finals, p50/p95;
- alert (and suggestion) latency: receive time minus the ``produced_at`` of the transcript
  record that triggered it (``Alert.source_produced_at``);
- CPU and memory of each component process (psutil);
- the highest level at which the targets held ("calls sustained in real time").

Without a UI process the receive times are those of a Kafka reader of the output topics
(the table says which).  The table is printed and written to ``<out>/<timestamp>.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.listen import KafkaTap, UiTap
from bench.stats import PHRASE_KINDS, LevelResult, levels_json, parse_levels, render, summarise
from pipeline.demo import SAMPLE_CALL, Demo, DemoSettings
from streams.platform.broker import free_port
from streams.platform.settings import CommonSettings

#: docs/ui.md: the demo agent whose panel the bench watches (demo users only)
AGENT_ID, AGENT_TOKEN = "agent-1", "demo-agent-1-token"
#: design.md targets on CPU with the base model; GPU: --word-p95 1.5
WORD_P95_S, ALERT_P95_S = 3.0, 0.2
#: the sample call says nothing a compliance rule flags; to measure alert latency under the level's
#: load, the bench adds one call whose agent says these real lines (from the scripted dialogues
#: in tests/data/dialogues, each flagged by a bundled rule) as final transcript records
PROBE_LINES = (
    "Great. Honestly this plan is risk free, you can't lose with it.",
    "You get a guaranteed return of six percent every year, locked in.",
    "Yeah, it's basically a deposit, just like a savings account but better.",
    "And this offer ends today, so you'd want to lock it in now.",
    "And to verify the account, can you tell me your pin number please?",
    "Well that's not my problem, talk to your bank.",
    "Go ahead, complaining won't help, the system says one charge.",
)
#: rules / KB whose phrases occur in the sample call's speech (phrase → alert / suggestion on real audio)
BENCH_RULES = Path(__file__).resolve().parent / "data" / "bench_rules.yaml"
BENCH_KB = Path(__file__).resolve().parent / "data" / "bench_kb.yaml"
#: series summed per level from each component's /metrics (catalogue names, docs/metrics.md)
COUNTERS = ("callassist_frames_dropped_total", "callassist_errors_total", "callassist_records_malformed_total")


def cut_sample(seconds: float, out_dir: Path) -> list[str]:
    """The sample call's two channels cut to their first ``seconds`` (same format: 8 kHz µ-law)."""
    import soundfile as sf

    paths = []
    for src in SAMPLE_CALL:
        info = sf.info(str(src))
        frames = min(info.frames, int(seconds * info.samplerate)) if seconds > 0 else info.frames
        data, sr = sf.read(str(src), frames=frames, dtype="int16")
        dst = out_dir / src.name
        sf.write(str(dst), data, sr, subtype=info.subtype, format=info.format)
        paths.append(str(dst))
    return paths


def scrape(port: int) -> dict[str, float]:
    """Selected counter totals and the ASR real-time factor sum/count from one /metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in COUNTERS:
                label = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "component")
                out[f"{s.name}{{{label}}}"] = out.get(f"{s.name}{{{label}}}", 0.0) + s.value
            elif s.name in ("callassist_asr_realtime_factor_sum", "callassist_asr_realtime_factor_count"):
                out[s.name] = out.get(s.name, 0.0) + s.value
    return out


def _diff(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0) > 0}


class Bench:
    def __init__(self, demo: Demo, args: argparse.Namespace, files: list[str]) -> None:
        self.demo = demo
        self.args = args
        self.files = files
        self.run_id = time.strftime("%H%M%S")
        s = demo.settings
        self.common = CommonSettings(**{
            **s.model_dump(include=set(CommonSettings.model_fields)),
            "broker_url": demo.broker.url, "broker_embedded": demo.broker_kind == "tansu",
        })
        self.ui = any(c.name == "ui" for c in demo.components) and not args.kafka_only

    def pids(self) -> dict[str, int]:
        pids = {c.name: c.proc.pid for c in self.demo.components if c.proc is not None}
        if self.demo.broker.pid:
            pids["broker"] = self.demo.broker.pid
        return pids

    def scrape_all(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for c in self.demo.components:
            for k, v in scrape(c.metrics_port).items():
                key = k if k.startswith("callassist_asr_") else f"{c.name}: {k}"
                totals[key] = totals.get(key, 0.0) + v
        return totals

    async def level(self, n: int) -> LevelResult:
        from pipeline.ingest.replay import replay_call
        from pipeline.ingest.settings import IngestSettings

        call_ids = {f"bench-{self.run_id}-{n}-{i}" for i in range(n)}
        probe_id = f"bench-{self.run_id}-{n}-probe"
        kafka = KafkaTap(self.common, call_ids | {probe_id})
        await kafka.start()
        ui: UiTap | None = None
        if self.ui:
            ui = UiTap(f"ws://{self.demo.settings.ui_host}:{self.demo.settings.ui_port}/ws", AGENT_TOKEN)
            await ui.start()
        ingest = IngestSettings(**self.common.model_dump())
        url = f"ws://127.0.0.1:{self.demo.settings.ingest_port}/calls"
        from bench.procs import UsageSampler

        before = self.scrape_all()
        sampler = UsageSampler(self.pids(), own_pid=os.getpid()).start()
        t0 = time.monotonic()

        async def one(i: int, call_id: str) -> Any:
            await asyncio.sleep(i * self.args.stagger)  # calls do not all start on the same frame
            return await replay_call(ingest, self.files, speed=self.args.speed, call_id=call_id, agent_id=AGENT_ID,
                                     customer_id=f"bench-customer-{i}", queue="bench", language=self.args.language,
                                     url=url, token=self.demo.settings.demo_ingest_token)

        print(f"level {n}: replaying {n} call(s) of {self.args.seconds:g} s ...", flush=True)
        probe = asyncio.ensure_future(self.probe(probe_id)) if self.args.alert_probe else None
        try:
            replays = await asyncio.gather(*(one(i, c) for i, c in enumerate(sorted(call_ids))))
            if probe is not None:
                await probe
            await self.settle(kafka, ui)
        finally:
            wall = time.monotonic() - t0
            usage = sampler.stop()
            await kafka.stop()
            if ui is not None:
                await ui.stop()
        counters = _diff(self.scrape_all(), before)
        notes: list[str] = []
        if probe is not None:
            notes.append(f"alert latency from the probe call ({len(PROBE_LINES)} flagged lines, one per "
                         f"{self._probe_gap():.1f} s)")
        if ui is not None:
            obs, unjoined = ui.observations(kafka, call_ids | {probe_id})
            notes.append(f"receive times on the agent's websocket (UI), {len(ui.updates)} updates")
            if unjoined:
                notes.append(f"{unjoined} UI update(s) had no matching Kafka record (not measured)")
        else:
            obs = kafka.observations()
            notes.append("no UI process: receive times of a Kafka reader of the output topics")
        rtf_n = counters.pop("callassist_asr_realtime_factor_count", 0.0)
        rtf_sum = counters.pop("callassist_asr_realtime_factor_sum", 0.0)
        if rtf_n:
            notes.append(f"ASR real-time factor (decode s / audio s) mean {rtf_sum / rtf_n:.3f} over {rtf_n:.0f} decodes")
        notes += [f"{k} +{v:g}" for k, v in sorted(counters.items())]
        missing = [r.call_id for r in replays if r.errors]
        if missing:
            notes.append(f"replay errors in {len(missing)} call(s): {replays[0].errors[:1]}")
        return LevelResult(
            calls=n,
            audio_s_per_call=max(r.audio_s for r in replays),
            wall_s=wall,
            latency=summarise(obs.items),
            usage=usage,
            max_replay_late_s=max(r.max_late_s for r in replays),
            expected_calls_seen=len(kafka.calls_with_final() & call_ids),
            duplicates=obs.duplicates,
            notes=notes, phrases=[o for o in obs.items if o.kind in PHRASE_KINDS],
        )

    def _probe_gap(self) -> float:
        return max(1.0, (self.args.seconds or 240.0) / (len(PROBE_LINES) + 1))

    async def probe(self, call_id: str) -> None:
        """The alert probe: a call of agent-1 whose finals (real flagged lines) go straight to
        calls.transcripts, spread over the level; alerts come back through streams and the UI."""
        from streams.contract.records import CallEvent, TranscriptSegment
        from streams.platform.kafka_clients import make_producer, start_client

        producer = make_producer(self.common, linger_ms=0)
        await start_client(producer, self.common)
        gap, key, s = self._probe_gap(), call_id.encode(), self.common
        try:
            await producer.send_and_wait(s.topic_events, CallEvent(
                call_id=call_id, kind="started", ts=time.time(), agent_id=AGENT_ID, language="en").to_bytes(), key=key)
            for i, text in enumerate(PROBE_LINES):
                await asyncio.sleep(gap)
                seg = TranscriptSegment(call_id=call_id, channel="agent", segment_id=f"{call_id}:agent:{i}",
                                        is_final=True, start=i * gap, end=i * gap + 3.0, text=text, language="en",
                                        produced_at=time.time())
                await producer.send_and_wait(s.topic_transcripts, seg.to_bytes(), key=key)
            await producer.send_and_wait(s.topic_events, CallEvent(
                call_id=call_id, kind="ended", ts=time.time(), duration=len(PROBE_LINES) * gap).to_bytes(), key=key)
        finally:
            await producer.stop()

    async def settle(self, kafka: KafkaTap, ui: UiTap | None) -> None:
        """After the replays: wait until nothing new arrived for ``--quiet`` s (the last finals and
        the end-of-call alerts), at most ``--settle`` s."""
        deadline = time.monotonic() + self.args.settle
        while time.monotonic() < deadline:
            last = max(kafka.seen.last_at, ui.last_at if ui else 0.0)
            if last and time.time() - last > self.args.quiet:
                return
            await asyncio.sleep(0.5)

    async def run(self, levels: list[int]) -> list[LevelResult]:
        out = []
        for n in levels:
            self.demo.check_alive()
            out.append(await self.level(n))
            await asyncio.sleep(self.args.pause)  # let the workers' state for ended calls go idle
        return out


def header(args: argparse.Namespace, argv: list[str], ui: bool) -> dict[str, str]:
    import psutil

    from pipeline.asr.settings import AsrSettings

    # the ASR settings this run differs from the defaults in (model, device, VAD...), as the workers read them
    fields = {f for f in AsrSettings.model_fields if f.startswith("asr_") and f != "asr_model_dir"}
    asr = AsrSettings().model_dump(mode="json", exclude_defaults=True, include=fields)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": "callassist bench " + shlex.join(argv),
        "broker": getattr(args, "broker", "tansu"),
        "machine": f"{platform.node()}: {psutil.cpu_count(logical=True)} logical CPUs "
        f"({platform.processor() or platform.machine()}), {psutil.virtual_memory().total / 2**30:.0f} GiB; "
        "CPU shared with other processes on this machine (load average at start "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())})",
        "input": f"{len(SAMPLE_CALL)}-channel real sample call (8 kHz µ-law), first {args.seconds:g} s, "
        f"speed x{args.speed:g}, calls started {args.stagger:g} s apart",
        "measured at": "the agent's websocket (UI)" if ui else "a Kafka reader of the output topics (no UI)",
        "ASR settings": json.dumps(asr) if asr else "defaults (Whisper base, CPU int8)",
    }


def soak_main(argv: list[str]) -> int:
    """``callassist bench soak``: memory of the components' state over hours of simulated call time."""
    from bench import soak

    p = argparse.ArgumentParser(prog="callassist bench soak", description=soak.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hours", type=float, default=8.0, help="simulated hours per scenario")
    p.add_argument("--lines", type=int, default=2, help="concurrent lines in the shift scenario")
    p.add_argument("--ui-max-segments", type=int, default=4000, help="UI segments kept per live call")
    p.add_argument("--out", type=Path, default=Path("bench/results"), help="directory of the results table")
    args = p.parse_args(argv)
    if args.hours <= 0 or args.lines < 1:
        p.error("--hours must be > 0 and --lines >= 1")

    def progress(name: str) -> Any:
        t0 = time.monotonic()
        return lambda pt: print(f"{name}: hour {pt.hour:.0f} simulated ({time.monotonic() - t0:.0f} s)", flush=True)

    t0 = time.monotonic()
    long = soak.long_call(args.hours, args.ui_max_segments, on_point=progress("long call"))
    t1 = time.monotonic()
    shift = soak.shift(args.hours, args.lines, on_point=progress("shift"))
    t2 = time.monotonic()
    text = "\n".join([
        "# callassist bench soak", "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"- command: callassist bench soak {shlex.join(argv)}",
        f"- wall time: long call {t1 - t0:.0f} s, shift {t2 - t1:.0f} s for {args.hours:g} h each "
        "(tracemalloc on; CPU shared with other processes)",
        "- KiB: memory allocated by each component's code and still alive after a GC (tracemalloc, by file); "
        "streams table KiB: the serialised per-call states (the Faust table values); table write ms: one "
        "state→JSON→state round trip of the largest call at the end (untraced), paid by the worker per record",
        "", soak.render(f"one call of {args.hours:g} h", long),
        soak.render(f"shift: {args.lines} lines of back-to-back calls for {args.hours:g} h", shift),
    ])
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(text, encoding="utf-8")
    print(text)
    print(f"written to {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["soak"]:
        return soak_main(argv[1:])
    p = argparse.ArgumentParser(prog="callassist bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", default="1,2,4", help="load levels: concurrent calls, comma-separated (default 1,2,4)")
    p.add_argument("--seconds", type=float, default=60.0, help="replay the first S seconds of the sample (0 = all)")
    p.add_argument("--speed", type=float, default=1.0, help="replay speed (1 = real time)")
    p.add_argument("--stagger", type=float, default=0.5, help="seconds between the starts of the calls of a level")
    p.add_argument("--language", default="en", help="call language given to ingest ('' = detect)")
    p.add_argument("--settle", type=float, default=60.0, help="max seconds to wait for the last outputs")
    p.add_argument("--quiet", type=float, default=4.0, help="settled when nothing new arrived for this long")
    p.add_argument("--pause", type=float, default=3.0, help="seconds between load levels")
    p.add_argument("--word-p95", type=float, default=WORD_P95_S, help="word→screen p95 target, s (GPU: 1.5)")
    p.add_argument("--alert-p95", type=float, default=ALERT_P95_S, help="alert p95 target, s")
    p.add_argument("--no-alert-probe", dest="alert_probe", action="store_false",
                   help="do not add the scripted call that measures alert latency")
    p.add_argument("--kafka-only", action="store_true", help="measure at a Kafka reader even when the UI runs")
    p.add_argument("--broker", choices=("tansu", "kafka"), default="tansu",
                   help="tansu: the embedded broker (default); kafka: Apache Kafka 4.x KRaft, 1 node (make kafka)")
    p.add_argument("--out", type=Path, default=Path("bench/results"), help="directory of the results table")
    p.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write every figure per level here")
    p.add_argument("--bundled-rules", action="store_true",
                   help="run streams on the bundled rules/KB (no phrase→alert/suggestion figures from the call)")
    args = p.parse_args(argv)
    try:
        levels = parse_levels(args.calls)
    except ValueError as exc:
        p.error(str(exc))
    if args.speed <= 0:
        p.error("--speed must be > 0 (latency is measured against real-time capture)")
    try:
        import psutil  # noqa: F401 - CPU/memory per component
    except ImportError:
        print("callassist bench: needs psutil (pip install psutil==7.2.2, in the dev extra)", file=sys.stderr)
        return 2

    from pipeline.asr.settings import AsrSettings

    base = DemoSettings()
    # a fresh data dir per run (Faust tables, QA store); the assembled Whisper model is reused
    model_dir = AsrSettings().model_cache_dir().resolve()
    with tempfile.TemporaryDirectory(prefix="callassist-bench-") as tmp:
        work = Path(tmp)
        settings = base.model_copy(update={
            "ui_port": free_port(), "ingest_port": free_port(), "data_dir": work / "var",
        })
        files = cut_sample(args.seconds, work)
        env = {"CALLASSIST_ASR_MODEL_DIR": str(model_dir)}
        if not args.bundled_rules:
            env |= {"CALLASSIST_STREAMS_RULES_PATH": str(BENCH_RULES), "CALLASSIST_STREAMS_KB_PATH": str(BENCH_KB)}
        demo = Demo(settings, work / "logs", extra_env=env, broker=args.broker)
        try:
            demo.start()
            bench = Bench(demo, args, files)
            results = asyncio.run(bench.run(levels))
        except (RuntimeError, OSError) as exc:
            print(f"callassist bench: {exc}", file=sys.stderr)
            _tail_logs(work / "logs")
            return 1
        finally:
            demo.stop()
    table = render(results, header(args, argv, bench.ui), args.word_p95, args.alert_p95)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{time.strftime('%Y%m%d-%H%M%S')}.md"
    path.write_text(table, encoding="utf-8")
    print(table)
    print(f"written to {path}")
    if args.json is not None:
        doc = {"header": header(args, argv, bench.ui), **levels_json(results, args.word_p95, args.alert_p95)}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"figures written to {args.json}")
    return 0


def _tail_logs(log_dir: Path) -> None:
    for f in sorted(log_dir.glob("*.log")):
        lines = f.read_text(errors="replace").splitlines()[-15:]
        print(f"--- {f.name} (last lines)\n" + "\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
