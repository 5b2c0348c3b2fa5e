"""ASR benchmarks: accuracy, speed, latency, concurrency, long-call stability.

Everything runs through the same streaming path as the live worker (pipeline.asr.Transcriber:
resampler, Silero VAD, endpointing, utterance decoding, filters), without Kafka.

    .venv/bin/python -m bench.asr quality            # WER on the sample call, WER/CER on ../shared/data/speech, RTF
    .venv/bin/python -m bench.asr latency [--seconds S]   # real-time replay: partial/final latency per word
    .venv/bin/python -m bench.asr streams [--max N] [--seconds S]   # concurrent real-time calls per worker
    .venv/bin/python -m bench.asr long [--repeat R]  # a long call (the sample call R times): drift and memory
    .venv/bin/python -m bench.asr all

Options: --window fit|full (encoder window), --threads N (CTranslate2 CPU threads).
Results are printed and written to bench/results/asr-<command>.json.  The machine these
numbers come from is shared: say so when quoting them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.asr_support import (  # noqa: E402
    REFERENCE,
    RESULTS,
    SPEECH,
    cpu_seconds,
    load_call,
    pct,
    rss_mb,
    stable_end,
)
from models.whisper.scoring import ErrorRate, error_rate  # noqa: E402
from pipeline.asr.offline import AudioFile, feed_file  # noqa: E402
from pipeline.asr.settings import AsrSettings  # noqa: E402
from pipeline.asr.stream import SegmentOut  # noqa: E402
from pipeline.asr.transcriber import Transcriber  # noqa: E402


class Bench:
    def __init__(self, args) -> None:
        from pipeline.asr.loading import load_models

        overrides = {"asr_encoder_window": args.window}
        if args.threads:
            overrides["asr_cpu_threads"] = args.threads
        self.settings = AsrSettings(**overrides)
        t = time.perf_counter()
        self.engine, self.vad_factory = load_models(self.settings)
        self.load_s = time.perf_counter() - t

    def transcriber(self, on_segments, partials: bool) -> Transcriber:
        cfg = self.settings.transcriber_config(self.engine.device, partials=partials)
        return Transcriber(self.engine, self.vad_factory, cfg, on_segments)

    async def run_files(self, files: list[tuple[AudioFile, str | None]]) -> tuple[dict, float, float]:
        """Unpaced: returns finals per call id, wall seconds, CPU seconds."""
        finals: dict[str, list] = {}

        async def on(segs):
            for s in segs:
                if s.is_final and s.text:
                    finals.setdefault(s.call_id, []).append(s)

        tr = self.transcriber(on, partials=False)
        await tr.start()
        t, c = time.perf_counter(), cpu_seconds()
        for audio, lang in files:
            await feed_file(tr, audio, lang)
            await tr.drain()
        wall, cpu = time.perf_counter() - t, cpu_seconds() - c
        await tr.stop()
        for v in finals.values():
            v.sort(key=lambda s: s.start)
        return finals, wall, cpu

    # -- quality ---------------------------------------------------------------------------
    async def quality(self) -> dict:
        out: dict = {
            "model": self.engine.resolved.name if self.engine.resolved else "?",
            "window": self.settings.asr_encoder_window,
        }
        call = load_call()
        finals, wall, cpu = await self.run_files([(call, "en")])
        ref = json.loads(REFERENCE.read_text())
        total = ErrorRate(0, 0)
        per = {}
        for ch in ("agent", "customer"):
            hyp = " ".join(s.text for s in finals.get(call.call_id, []) if s.channel == ch)
            er = error_rate(" ".join(ref["channels"][ch]), hyp, "en")
            per[ch] = {"wer": round(er.rate, 4), "errors": er.errors, "words": er.ref_len}
            total = total + er
        out["sample_call"] = {
            "wer": round(total.rate, 4),
            "channels": per,
            "audio_s": round(call.duration * 2, 1),
            "wall_s": round(wall, 1),
            "cpu_s": round(cpu, 1),
            "rtf_wall": round(wall / (call.duration * 2), 3),
            "rtf_cpu": round(cpu / (call.duration * 2), 3),
            "reference": ref["method"],
        }
        clips = []
        refs = json.loads((SPEECH / "refs.json").read_text())
        for r in refs:
            data, rate = sf.read(str(SPEECH / r["file"]), dtype="float32", always_2d=True)
            ch = data[:, r["channel"] or 0]
            audio = AudioFile(r["id"], int(rate), {"agent": ch})
            for lang in (r["lang"], None):  # forced, then detected
                f, w, c = await self.run_files([(audio, lang)])
                segs = f.get(r["id"], [])
                sep = "" if r["lang"] == "zh" else " "
                hyp = sep.join(s.text for s in segs)
                er = error_rate(r["ref"], hyp, r["lang"])
                clips.append(
                    {
                        "id": r["id"],
                        "lang": r["lang"],
                        "language": "forced"
                        if lang
                        else "detected:" + ",".join(sorted({s.language for s in segs})),
                        "metric": "CER" if r["lang"] == "zh" else "WER",
                        "rate": round(er.rate, 4),
                        "audio_s": round(len(ch) / rate, 1),
                        "rtf_wall": round(w / (len(ch) / rate), 3),
                        "hyp": hyp,
                    }
                )
        out["clips"] = clips
        for lang in ("en", "zh"):
            forced = [c for c in clips if c["lang"] == lang and c["language"] == "forced"]
            out[f"{lang}_clips_mean_forced"] = round(statistics.mean(c["rate"] for c in forced), 4)
        return out

    # -- latency ---------------------------------------------------------------------------
    async def realtime(self, calls: list[tuple[AudioFile, float]], partials: bool = True) -> dict:
        """Feed calls paced at the wall clock (each from its start offset); per-word latency.

        For every word of every final: *partial* = first record of its segment whose decoded
        audio reaches the word's end (what the agent first sees), *stable* = first record in
        which LocalAgreement marks it stable (or the final), *final* = the final record;
        each minus the wall time at which the frame holding the word's end was fed.
        """
        records: list[tuple[float, SegmentOut]] = []
        fed: dict[str, list[tuple[float, float]]] = {c.call_id: [] for c, _ in calls}

        async def on(segs):
            now = time.monotonic()
            records.extend((now, s) for s in segs)

        tr = self.transcriber(on, partials=partials)
        await tr.start()
        rss0, c0, t0 = rss_mb(), cpu_seconds(), time.perf_counter()
        rss_samples: list[tuple[float, float]] = []

        async def sample_rss():
            while True:
                rss_samples.append((time.perf_counter() - t0, rss_mb()))
                await asyncio.sleep(5)

        async def one(audio: AudioFile, delay: float):
            await asyncio.sleep(delay)
            await feed_file(
                tr, audio, "en", realtime=True, on_frame=lambda t, w: fed[audio.call_id].append((t, w))
            )

        sampler = asyncio.create_task(sample_rss())
        await asyncio.gather(*(one(a, d) for a, d in calls))
        fed_done = time.monotonic()
        await tr.drain()
        drain_s = time.monotonic() - fed_done
        sampler.cancel()
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
        await tr.stop()

        def wall_of(call_id: str, t: float) -> float:
            frames = fed[call_id]
            i = int(np.searchsorted([f[0] for f in frames], t - 1e-6))
            return frames[min(i, len(frames) - 1)][1]

        final_lat, partial_lat, stable_lat, by_pos = [], [], [], []
        firsts: dict[str, list[tuple[float, float]]] = {}
        stables: dict[str, list[tuple[float, float]]] = {}
        for at, s in records:
            firsts.setdefault(s.segment_id, []).append((s.end, at))
            stables.setdefault(s.segment_id, []).append((s.end if s.is_final else stable_end(s), at))
        duration = max(a.duration for a, _ in calls)
        for at, s in records:
            if not s.is_final:
                continue
            for w in s.words:
                audio_at = wall_of(s.call_id, w.end)
                final_lat.append(at - audio_at)
                by_pos.append((w.end / duration, at - audio_at))
                first = min((a for end, a in firsts[s.segment_id] if end >= w.end - 0.05), default=at)
                partial_lat.append(first - audio_at)
                stable = min((a for end, a in stables[s.segment_id] if end >= w.end - 0.05), default=at)
                stable_lat.append(stable - audio_at)
        live_wer = None
        if len(calls) == 1 and calls[0][0].call_id == "auto_repairs_40":
            # accuracy of what the live path finalised (early finals included)
            ref = json.loads(REFERENCE.read_text())
            total = ErrorRate(0, 0)
            for ch in ("agent", "customer"):
                finals = sorted(
                    (s for _, s in records if s.is_final and s.channel == ch), key=lambda s: s.start
                )
                total = total + error_rate(
                    " ".join(ref["channels"][ch]), " ".join(s.text for s in finals), "en"
                )
            live_wer = round(total.rate, 4)
        quarters = []
        for q in range(4):
            xs = [lat for p, lat in by_pos if q / 4 <= p < (q + 1) / 4]
            quarters.append(
                {
                    "quarter": q + 1,
                    "words": len(xs),
                    "final_p50": round(pct(xs, 50), 2),
                    "final_p95": round(pct(xs, 95), 2),
                }
            )
        return {
            "calls": len(calls),
            "audio_s_per_call": round(duration, 1),
            "channels": sum(len(a.channels) for a, _ in calls),
            "words": len(final_lat),
            "partial_p50": round(pct(partial_lat, 50), 2),
            "partial_p95": round(pct(partial_lat, 95), 2),
            "stable_p50": round(pct(stable_lat, 50), 2),
            "stable_p95": round(pct(stable_lat, 95), 2),
            "final_p50": round(pct(final_lat, 50), 2),
            "final_p95": round(pct(final_lat, 95), 2),
            "final_max": round(max(final_lat, default=float("nan")), 2),
            "by_quarter": quarters,
            "live_final_wer": live_wer,
            "drain_after_last_frame_s": round(drain_s, 2),
            "cpu_s": round(cpu, 1),
            "cpu_per_audio_s": round(cpu / max(1e-9, sum(a.duration * len(a.channels) for a, _ in calls)), 3),
            "wall_s": round(wall, 1),
            "rss_mb_start": round(rss0, 1),
            "rss_mb_max": round(max((r for _, r in rss_samples), default=rss0), 1),
            "partials": sum(1 for _, s in records if not s.is_final),
            "finals": sum(1 for _, s in records if s.is_final),
        }

    async def latency(self, seconds: float | None) -> dict:
        return await self.realtime([(load_call(seconds), 0.0)])

    async def streams(self, max_calls: int, seconds: float, target_p95: float) -> dict:
        trials = []
        best = 0
        for n in range(1, max_calls + 1):
            calls = [(load_call(seconds, f"call{i}"), i * 7.0 % max(seconds, 1.0)) for i in range(n)]
            r = await self.realtime(calls)
            # "text on the agent's screen": the first record showing the word (partial or final)
            ok = r["partial_p95"] <= target_p95 and r["drain_after_last_frame_s"] <= target_p95
            trials.append({**r, "ok": ok})
            print(
                f"  {n} call(s): final p95 {r['final_p95']} s, partial p95 {r['partial_p95']} s, drain {r['drain_after_last_frame_s']} s -> {'ok' if ok else 'over'}",
                flush=True,
            )
            if not ok:
                break
            best = n
        return {
            "criterion": "first text (partial or final) p95 <= target and no backlog",
            "target_p95_s": target_p95,
            "max_calls": best,
            "max_channels": best * 2,
            "trials": trials,
        }

    async def long(self, repeat: int) -> dict:
        one = load_call()
        audio = AudioFile(
            "long", one.rate, {ch: np.concatenate([a] * repeat) for ch, a in one.channels.items()}
        )
        decode_times: list[tuple[float, float]] = []
        orig = self.engine.decode

        def timed(reqs):
            t = time.perf_counter()
            res = orig(reqs)
            decode_times.append((time.perf_counter() - t, sum(len(r.audio) for r in reqs) / 16000))
            return res

        self.engine.decode = timed  # type: ignore[method-assign]
        rss: list[float] = []
        finals: list = []

        async def on(segs):
            finals.extend(s for s in segs if s.is_final)
            rss.append(rss_mb())

        tr = self.transcriber(on, partials=False)
        await tr.start()
        t = time.perf_counter()
        await feed_file(tr, audio, "en")
        await tr.drain()
        wall = time.perf_counter() - t
        await tr.stop()
        self.engine.decode = orig  # type: ignore[method-assign]
        n = len(decode_times)
        halves = [decode_times[: n // 2], decode_times[n // 2 :]]
        per_s = [sum(d for d, _ in h) / max(1e-9, sum(a for _, a in h)) for h in halves]
        return {
            "audio_s": round(audio.duration, 1),
            "channels": 2,
            "wall_s": round(wall, 1),
            "finals": len(finals),
            "decode_s_per_audio_s_first_half": round(per_s[0], 3),
            "decode_s_per_audio_s_second_half": round(per_s[1], 3),
            "rss_mb_first_quarter_max": round(max(rss[: len(rss) // 4] or [0]), 1),
            "rss_mb_last_quarter_max": round(max(rss[-(len(rss) // 4) :] or [0]), 1),
            "last_segment_end_s": round(max((s.end for s in finals), default=0), 1),
        }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=("quality", "latency", "streams", "long", "all"))
    p.add_argument("--window", default="fit", choices=("fit", "full"))
    p.add_argument("--threads", type=int, default=0)
    p.add_argument(
        "--seconds", type=float, default=None, help="latency/streams: use only the call's first S seconds"
    )
    p.add_argument("--max", type=int, default=6, help="streams: most concurrent calls to try")
    p.add_argument("--target", type=float, default=3.0, help="streams: final-latency p95 target (s)")
    p.add_argument("--repeat", type=int, default=4, help="long: the sample call repeated this many times")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    bench = Bench(args)
    env = {
        "cpu_count": os.cpu_count(),
        "threads": args.threads or os.cpu_count(),
        "device": bench.engine.device,
        "compute_type": bench.engine.compute_type,
        "model_load_s": round(bench.load_s, 2),
        "note": "CPU shared with other jobs while measuring; GPU not measured (none lent)",
    }
    commands = ["quality", "latency", "streams", "long"] if args.command == "all" else [args.command]
    RESULTS.mkdir(parents=True, exist_ok=True)
    for cmd in commands:
        if cmd == "quality":
            res = asyncio.run(bench.quality())
        elif cmd == "latency":
            res = asyncio.run(bench.latency(args.seconds))
        elif cmd == "streams":
            res = asyncio.run(bench.streams(args.max, args.seconds or 90.0, args.target))
        else:
            res = asyncio.run(bench.long(args.repeat))
        res = {"command": cmd, "env": env, **res}
        (RESULTS / f"asr-{cmd}.json").write_text(json.dumps(res, indent=1, ensure_ascii=False))
        print(
            json.dumps(
                {k: v for k, v in res.items() if k not in ("clips", "trials")}, indent=1, ensure_ascii=False
            )
        )
        for c in res.get("clips", []):
            print(
                f"  {c['id']:<22} {c['language']:<14} {c['metric']} {c['rate']:.3f}  RTF {c['rtf_wall']:.3f}  {c['hyp'][:60]}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
