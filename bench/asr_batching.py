"""Does batching several streams' decodes into one CTranslate2 call pay on CPU? (issue 20)

    .venv/bin/python -m bench.asr_batching [--sizes 1,2,4,8] [--rounds 2] [--threads N] [FILE...]

The utterances are the ones the live worker decodes: each file (default: both channels of the
bundled sample call) goes once through the streaming path (``pipeline.asr.offline``: VAD,
endpointing) with partials off, and every *final* decode request is recorded.  Those requests
are then decoded again by the same engine, ``size`` at a time (requests sorted by arrival, as
the scheduler groups waiting finals, so a batch mixes utterances of different lengths), and
per batch size it reports:

- CPU-seconds per audio second (``time.process_time``: every CTranslate2 thread counts);
- wall seconds per audio second, and the mean wait of an utterance for its result (the
  batch's wall time: each request waits for the whole batch);
- whether the text is the same as with size 1 (batching pads to the longest member).

CPU time is the figure that matters on a shared machine; wall time is printed with the load
average, because it moves with whatever else runs.  Written to bench/results/asr-batching.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from models.whisper.decoding import DecodeRequest, DecodeResult, UtteranceDecoder

REPO = Path(__file__).resolve().parents[1]
SAMPLES = [REPO / "pipeline" / "samples" / "auto_repairs_40_agent.wav",
           REPO / "pipeline" / "samples" / "auto_repairs_40_caller.wav"]
RESULTS = REPO / "bench" / "results" / "asr-batching.json"


class RecordingDecoder(UtteranceDecoder):
    """Passes every request to the real engine and keeps a copy (the utterances to re-decode)."""

    def __init__(self, inner: UtteranceDecoder) -> None:
        self.inner = inner
        self.device = inner.device
        self.requests: list[DecodeRequest] = []

    def decode(self, requests: Sequence[DecodeRequest]) -> list[DecodeResult]:
        self.requests.extend(requests)
        return self.inner.decode(requests)


def _requests(engine: UtteranceDecoder, vad_factory: Any, config: Any, files: list[Path]) -> list[DecodeRequest]:
    from pipeline.asr.offline import transcribe_files

    recorder = RecordingDecoder(engine)
    asyncio.run(transcribe_files(files, recorder, vad_factory, config, language="en"))
    return [r for r in recorder.requests if r.language is not None]


def batches(reqs: list[DecodeRequest], size: int, width: Callable[[DecodeRequest], int] | None = None,
            ) -> list[list[int]]:
    """Indexes of ``reqs`` in batches of at most ``size``, in arrival order; with ``width``
    only requests of the same encoder window share a batch (no padding beyond their own)."""
    groups: dict[int, list[int]] = {}
    for i, r in enumerate(reqs):
        groups.setdefault(width(r) if width is not None else 0, []).append(i)
    out = [idx[j:j + size] for idx in groups.values() for j in range(0, len(idx), size)]
    return sorted(out, key=lambda b: b[0])


def _run(engine: UtteranceDecoder, reqs: list[DecodeRequest], size: int,
         width: Callable[[DecodeRequest], int] | None = None) -> dict[str, Any]:
    texts: dict[int, str] = {}
    waits: list[float] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for batch in batches(reqs, size, width):
        t = time.perf_counter()
        for i, res in zip(batch, engine.decode([reqs[i] for i in batch]), strict=True):
            texts[i] = res.text
        waits += [time.perf_counter() - t] * len(batch)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    audio_s = sum(len(r.audio) for r in reqs) / 16000
    return {"size": size, "same_window": width is not None, "cpu_s_per_audio_s": round(cpu / audio_s, 4),
            "wall_s_per_audio_s": round(wall / audio_s, 4), "mean_wait_s": round(sum(waits) / len(waits), 3),
            "texts": [texts[i] for i in range(len(reqs))]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, default=SAMPLES)
    ap.add_argument("--sizes", default="1,2,4,8")
    ap.add_argument("--rounds", type=int, default=2, help="runs per size (the best CPU figure is kept)")
    ap.add_argument("--threads", type=int, default=0, help="CTranslate2 CPU threads (0: all cores)")
    ap.add_argument("--same-window", action="store_true",
                    help="also run each size with batches of same-encoder-window utterances only")
    args = ap.parse_args(argv)

    from pipeline.asr.loading import load_models
    from pipeline.asr.settings import AsrSettings

    settings = AsrSettings(asr_cpu_threads=args.threads, asr_device="cpu")
    engine, vad_factory = load_models(settings)
    reqs = _requests(engine, vad_factory, settings.transcriber_config("cpu", partials=False), list(args.files))
    audio_s = sum(len(r.audio) for r in reqs) / 16000
    print(f"{len(reqs)} final utterances, {audio_s:.1f} s of audio; load average {os.getloadavg()[0]:.1f}")
    width = getattr(engine, "encoder_window_of", None)
    rows = []
    for size in (int(x) for x in args.sizes.split(",")):
        for w in [None] + ([width] if args.same_window and width is not None and size > 1 else []):
            rows.append(min((_run(engine, reqs, size, w) for _ in range(args.rounds)),
                            key=lambda r: r["cpu_s_per_audio_s"]))
    same = [sum(a == b for a, b in zip(rows[0]["texts"], r["texts"], strict=True)) for r in rows]
    print("| batch size | batches | CPU-s per audio s | wall-s per audio s | mean wait for a result | texts as size 1 |")
    print("|---:|---|---:|---:|---:|---:|")
    for r, n in zip(rows, same, strict=True):
        kind = "same window" if r["same_window"] else "arrival order"
        print(f"| {r['size']} | {kind} | {r['cpu_s_per_audio_s']:.3f} | {r['wall_s_per_audio_s']:.3f} | "
              f"{r['mean_wait_s']:.2f} s | {n}/{len(reqs)} |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"utterances": len(reqs), "audio_s": round(audio_s, 1),
                                   "load_average": os.getloadavg()[0], "threads": args.threads,
                                   "rows": [{k: v for k, v in r.items() if k != "texts"} | {"same_text": n}
                                            for r, n in zip(rows, same, strict=True)]}, indent=1))


if __name__ == "__main__":
    main()
