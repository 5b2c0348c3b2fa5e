"""Cross-corpus validation from the command line (held-out corpus numbers only).

    python -m models.emotion.training.crossval --corpus ravdess=../shared/data/emotion/ravdess \\
        --corpus casia=../shared/data/emotion/casia [--json var/cross_corpus.json]

Each ``--corpus NAME=DIR`` is a folder of RAVDESS-named files or with a ``labels.csv``
(path,label,speaker).  Window features are cached in ``var/emotion_cache`` (computed once).
Prints one markdown row per (train -> test, target, condition, opening); see
:mod:`models.emotion.training.crosscorpus` for the protocol.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from models.emotion.training.corpus import CONDITIONS, corpus_features
from models.emotion.training.crosscorpus import Corpus, cross_corpus
from models.emotion.training.dataset import discover


def load_corpora(specs: list[str], cache: Path | None, conditions: tuple[str, ...] = CONDITIONS) -> list[Corpus]:
    out = []
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--corpus wants NAME=DIR, got {spec!r}")
        clips = discover(Path(path))
        out.append(Corpus(name, {c: corpus_features(clips, c, cache) for c in conditions}))
    return out


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| train → test | target | condition | opening | n clips | AUC | UAR | model (inner CV) | threshold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['train']} → {r['test']} | {r['target']} | {r['condition']} | {r['opening']} | {r['n']} | "
            f"{r['auc']:.3f} | {r['uar']:.3f} | {r['model']} | {r['threshold']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.emotion.training.crossval", description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", required=True, help="NAME=DIR (two or more)")
    ap.add_argument("--cache", type=Path, default=Path("var/emotion_cache"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    if len(args.corpus) < 2:
        raise SystemExit("cross-corpus validation needs at least two --corpus")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    report(cross_corpus(load_corpora(args.corpus, args.cache), args.seed), args.json)
    return 0


def report(rows: list[dict[str, Any]], json_path: Path | None) -> None:
    """Print the rows as the model card's table, and write them as JSON when asked."""
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(table(rows))


if __name__ == "__main__":
    sys.exit(main())
