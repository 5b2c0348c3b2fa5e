"""``callassist emotion``: the live worker, and the offline ``score`` / ``evaluate`` commands.

callassist emotion [run]
callassist emotion score FILE... [--channel customer|agent] [--telephone]
callassist emotion evaluate DIR [--telephone] [--opening calm|mixed|none] [--seed N] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from models.emotion.model import EmotionModel, ModelError
from models.emotion.training.corpus import AudioError
from models.emotion.training.dataset import DatasetError
from pipeline.emotion.settings import EmotionSettings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callassist emotion", description="Prosody emotion worker and tools.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="run the live worker (the default)")
    s = sub.add_parser("score", help="print per-window emotion records of recordings as JSON lines")
    s.add_argument("files", nargs="+", metavar="FILE", type=Path)
    s.add_argument("--channel", choices=("customer", "agent"), default="customer", help="channel of a mono file")
    s.add_argument("--telephone", action="store_true", help="degrade to 8 kHz µ-law 300-3400 Hz first")
    e = sub.add_parser("evaluate", help="score a labelled folder (RAVDESS names or labels.csv: path,label,speaker)")
    e.add_argument("dir", type=Path)
    e.add_argument("--telephone", action="store_true", help="degrade clips to telephone band first")
    e.add_argument(
        "--opening",
        choices=("calm", "mixed", "none"),
        default="calm",
        help="per-speaker baseline from the speaker's neutral/calm clips (a calm call opening, the default), "
        "from all their clips, or none",
    )
    e.add_argument("--seed", type=int, default=0, help="seed of the per-speaker baseline sample")
    e.add_argument("--json", action="store_true", help="print the full JSON report")
    return p


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        settings = EmotionSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        print(f"callassist emotion: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "score":
            return _score(settings, args)
        if args.command == "evaluate":
            return _evaluate(settings, args)
        return serve(settings)
    except ModelError as exc:
        print(f"callassist emotion: {exc}", file=sys.stderr)
        return 2


def _score(settings: EmotionSettings, args: argparse.Namespace) -> int:
    from pipeline.emotion.offline import score_file

    model = EmotionModel(settings.emotion_model_dir).load()
    failed = 0
    for path in args.files:
        try:
            readings = score_file(model, path, args.channel, args.telephone)
        except AudioError as exc:
            print(f"callassist emotion score: {exc}", file=sys.stderr)
            failed += 1
            continue
        for r in readings:
            print(json.dumps({"file": str(path), **r.asdict()}, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def _evaluate(settings: EmotionSettings, args: argparse.Namespace) -> int:
    from pipeline.emotion.offline import evaluate_dir

    model = EmotionModel(settings.emotion_model_dir).load()
    try:
        r = evaluate_dir(
            model, args.dir, args.telephone, settings.data_dir / "emotion_cache", args.seed, args.opening
        )
    except (DatasetError, AudioError) as exc:
        print(f"callassist emotion evaluate: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"{args.dir}: {r['clips_scored']}/{r['clips']} clips scored, {r['speakers']} speakers, "
          f"{r['condition']}, speaker baseline: {r['opening']}")
    for sig, name in (("arousal", "arousal (activated vs calm)"), ("agitated", "agitated vs not")):
        s = r[sig]
        if s is None:
            print(f"{name}: no clips on one side of this signal")
        else:
            print(f"{name}: n {s['n']}  AUC {s['auc']:.3f}  UAR {s['uar']:.3f}  accuracy {s['accuracy']:.3f}")
    return 0


def serve(settings: EmotionSettings) -> int:
    """The live worker under run_service (registry, shared series, /metrics, signals, exit code)."""
    from pipeline.emotion.worker import EmotionWorker
    from streams.platform.service import run_service

    return run_service(
        lambda registry: EmotionWorker(settings, registry),
        component="emotion",
        metrics_host=settings.metrics_host,
        metrics_port=settings.metrics_port,
        banner=lambda _worker: "callassist emotion: worker running",
        usage_errors=(ModelError,),  # a missing or broken model: the message, exit 2
    )
