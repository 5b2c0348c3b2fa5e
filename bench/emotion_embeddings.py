"""Whisper-base encoder embeddings for the voice signals: cross-corpus validation and live cost.

    python -m bench.emotion_embeddings crossval --corpus ravdess=../shared/data/emotion/ravdess \\
        --corpus casia=../shared/data/emotion/casia --features whisper --pooling mean [--json FILE]
    python -m bench.emotion_embeddings compare var/results/a.json var/results/b.json   # side by side
    python -m bench.emotion_embeddings cache --corpus casia=../shared/data/emotion/casia   # embeddings only
    OMP_NUM_THREADS=1 python -m bench.emotion_embeddings cost [--seconds 60]

``crossval`` runs the very protocol of ``models.emotion.training.crossval`` (leave one corpus
out, family/C/threshold chosen by speaker-grouped CV inside the training corpus, population
statistics from it, clean and telephone band, calm opening and none) on another feature set:
``whisper`` (pooled encoder states of each 3 s window; clip score = mean of its windows),
``whisper+prosody`` (the same windows with the 51 hand features prepended), ``whisper-clip``
(one embedding of the whole clip, the geometry of an ASR utterance) or ``prosody`` (the hand
features through the same cache, a sanity check against the model card).  An experiment:
nothing here changes the shipped models.

``cost``: set ``OMP_NUM_THREADS=1`` (as a live single-thread analysis worker would): without
it CTranslate2's OpenMP pool spins on the other core and the encoder's CPU time per window
more than doubles (21 -> 47-57 ms measured on this 2-core machine) for no wall-clock gain.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from models.emotion import features as F
from models.emotion.training import embeddings as E
from models.emotion.training.corpus import CONDITIONS
from models.emotion.training.crosscorpus import Corpus, cross_corpus
from models.emotion.training.crossval import report
from models.emotion.training.dataset import discover
from models.emotion.training.embedding_corpus import FEATURE_SETS, corpus_embeddings

CACHE = Path("var/emotion_cache")


def _specs(specs: list[str]) -> list[tuple[str, Path]]:
    out = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--corpus wants NAME=DIR, got {spec!r}")
        out.append((name, Path(path)))
    return out


def load(
    specs: list[str], feature_set: str, pooling: str, cache: Path, models: Path, conditions: tuple[str, ...] = CONDITIONS
) -> list[Corpus]:
    encoder = E.WhisperEncoder(models)
    corpora = []
    for name, path in _specs(specs):
        clips = discover(path)
        cf = {c: corpus_embeddings(clips, c, cache, encoder).features(feature_set, pooling) for c in conditions}
        corpora.append(Corpus(name, cf))
    return corpora


def _speech(seconds: float) -> np.ndarray:
    """``seconds`` of real speech at 16 kHz: RAVDESS clips of one actor back to back (or noise without data)."""
    root = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "emotion" / "ravdess" / "Actor_01"
    import soundfile as sf
    import soxr

    parts, total = [], 0
    for p in sorted(root.glob("*.wav")) + sorted(root.glob("*.flac")):
        y, sr = sf.read(str(p), dtype="float32", always_2d=True)
        y = soxr.resample(y.mean(axis=1), sr, E.SAMPLE_RATE)
        parts.append(y)
        total += y.size
        if total >= seconds * E.SAMPLE_RATE:
            break
    if not parts:
        return (np.random.default_rng(0).standard_normal(int(seconds * E.SAMPLE_RATE)) * 0.05).astype(np.float32)
    return np.concatenate(parts)[: int(seconds * E.SAMPLE_RATE)].astype(np.float32)


def cost(seconds: float, models: Path, threads: int) -> dict[str, float | str]:
    """CPU ms per stream-second of the encoder on the live geometry (3 s window, 1 s hop), one thread."""
    enc = E.WhisperEncoder(models, threads=threads).load()
    y = _speech(seconds)
    bounds = F.window_bounds(y.size, E.SAMPLE_RATE)
    full = [(a, b) for a, b in bounds if b - a == int(F.WINDOW_S * E.SAMPLE_RATE)]
    enc.embed(y[full[0][0] : full[0][1]])  # warm-up (allocations, int8 kernels)
    t0, w0 = time.process_time(), time.perf_counter()
    for a, b in full:
        enc.embed(y[a:b])
    cpu_ms = (time.process_time() - t0) * 1000 / len(full)
    wall_ms = (time.perf_counter() - w0) * 1000 / len(full)
    # pooling alone: the marginal cost if the states came from the ASR's own encoder call
    st = enc.states(y[full[0][0] : full[0][1]])
    t1 = time.process_time()
    for _ in range(200):
        E.pool_states(st, E.voiced_state_mask(y[full[0][0] : full[0][1]], st.shape[0]), "meanstd")
    pool_ms = (time.process_time() - t1) * 1000 / 200
    return {"windows": len(full), "cpu_ms_per_window": cpu_ms, "wall_ms_per_window": wall_ms,
            "cpu_ms_per_stream_second": cpu_ms / F.HOP_S, "pool_only_cpu_ms": pool_ms,
            "threads": threads, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"), "loadavg_1m": os.getloadavg()[0], "cores": os.cpu_count() or 0}  # fmt: skip


def compare(paths: list[Path]) -> str:
    """One markdown table of several ``crossval --json`` results: AUC / UAR per feature set side by side."""
    raw = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    # models/emotion/metrics.json (the shipped prosody table) holds its rows under "cross_corpus"
    runs = [r["cross_corpus"] if isinstance(r, dict) else r for r in raw]
    names = [f"{r[0].get('features', 'prosody')} ({r[0].get('pooling', 'shipped')})" for r in runs]
    head = "| train → test | target | condition | opening | " + " | ".join(f"{n} AUC / UAR" for n in names) + " |"
    lines = [head, "|" + "---|" * (4 + len(names))]
    def key(r: dict) -> tuple:
        return (r["train"], r["test"], r["target"], r["condition"], r["opening"])

    by_key = [{key(r): r for r in run} for run in runs]
    for r in runs[0]:
        got = [b.get(key(r)) for b in by_key]
        cells = [f"{g['auc']:.3f} / {g['uar']:.3f}" if g else "–" for g in got]
        lines.append(f"| {r['train']} → {r['test']} | {r['target']} | {r['condition']} | {r['opening']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.emotion_embeddings", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    cv = sub.add_parser("crossval", help="cross-corpus table on an embedding feature set")
    ca = sub.add_parser("cache", help="compute (or check) the cached embeddings of corpora only")
    for p in (cv, ca):
        p.add_argument("--corpus", action="append", required=True, help="NAME=DIR")
        p.add_argument("--cache", type=Path, default=CACHE)
        p.add_argument("--condition", choices=CONDITIONS, action="append", help="only these (default: all)")
    cv.add_argument("--features", choices=FEATURE_SETS, default="whisper")
    cv.add_argument("--pooling", choices=E.POOLINGS, default="mean")
    cv.add_argument("--seed", type=int, default=0)
    cv.add_argument("--json", type=Path, default=None)
    cmp_ = sub.add_parser("compare", help="one table of several crossval --json files")
    cmp_.add_argument("json_files", nargs="+", type=Path)
    co = sub.add_parser("cost", help="CPU ms per stream-second of the encoder (3 s window, 1 s hop)")
    co.add_argument("--seconds", type=float, default=60.0)
    co.add_argument("--threads", type=int, default=1)
    ap.add_argument("--models", type=Path, default=Path("var/models"), help="where the ASR assembles Whisper base")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.cmd == "compare":
        print(compare(args.json_files))
        return 0
    if args.cmd == "cost":
        print(json.dumps(cost(args.seconds, args.models, args.threads), indent=1))
        return 0
    if args.cmd == "cache":
        load(args.corpus, "whisper", "mean", args.cache, args.models, tuple(args.condition or CONDITIONS))
        return 0
    if len(args.corpus) < 2:
        raise SystemExit("cross-corpus validation needs at least two --corpus")
    conditions = tuple(args.condition or CONDITIONS)
    rows = cross_corpus(load(args.corpus, args.features, args.pooling, args.cache, args.models, conditions), args.seed)
    for r in rows:
        r["features"], r["pooling"] = args.features, args.pooling
    report(rows, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
