"""Train and export the two voice signals (arousal, agitated), validated across corpora.

    python -m models.emotion.training.train --corpus ravdess=../shared/data/emotion/ravdess \\
        --corpus casia=../shared/data/emotion/casia --out models/emotion

Steps (all seeded, so the same data gives the same model):
1. discover each corpus's labelled clips (RAVDESS names or labels.csv, models.emotion.training.dataset);
2. window features, clean and telephone band (8 kHz µ-law, 300-3400 Hz), cached in
   var/emotion_cache;
3. for each signal, choose the model family (logistic regression / RBF-SVM), C and the
   threshold by speaker-grouped CV over all corpora pooled, then fit on everything and export
   ONNX (skl2onnx) + feature_spec.json;
4. cross-corpus validation (models.emotion.training.crosscorpus): leave each corpus out, repeat every
   choice inside the others, score the held-out corpus; metrics.json and the MODEL_CARD table
   hold only these held-out-corpus numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from models.emotion import features as F
from models.emotion.model import MODEL_FILES, SIGNALS, SPEC_FILE, EmotionModel
from models.emotion.training.crosscorpus import train_target
from models.emotion.training.crossval import load_corpora, table

log = logging.getLogger("models.emotion.training.train")


def _onnx(model: Any) -> tuple[bytes, list[int]]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    clf = model.steps[-1][1]
    onx = convert_sklearn(
        model,
        initial_types=[("features", FloatTensorType([None, F.N_FEATURES]))],
        options={id(clf): {"zipmap": False}},
        target_opset=17,
    )
    # name the probability output explicitly so the loader does not depend on skl2onnx naming
    for o in onx.graph.output:
        if o.name != "label":
            old = o.name
            for node in onx.graph.node:
                node.output[:] = ["probabilities" if x == old else x for x in node.output]
            o.name = "probabilities"
    onx.graph.name = "callassist_emotion"  # skl2onnx picks a random uuid: keep the export reproducible
    return onx.SerializeToString(), [int(c) for c in clf.classes_]


def _update_card(card: Path, text_table: str) -> None:
    if not card.is_file():
        return
    text = card.read_text(encoding="utf-8")
    start, end = "<!-- metrics:start -->", "<!-- metrics:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        card.write_text(f"{head}{start}\n{text_table}\n{end}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.emotion.training.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", action="append", default=[], help="NAME=DIR, repeatable (two or more for validation)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1], help="where the model goes (models/emotion)")
    ap.add_argument("--cache", type=Path, default=Path("var/emotion_cache"), help="feature cache ('' = none)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not args.corpus:
        args.corpus = ["ravdess=../shared/data/emotion/ravdess", "casia=../shared/data/emotion/casia"]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    t0 = time.time()
    corpora = load_corpora(args.corpus, Path(args.cache) if str(args.cache) else None)

    signals: dict[str, Any] = {}
    blobs: dict[str, bytes] = {}
    base = None
    for sig in SIGNALS:
        model, choice, base = train_target(corpora, sig, args.seed)
        blob, classes = _onnx(model)
        blobs[sig] = blob
        signals[sig] = {"file": MODEL_FILES[sig], "sha256": hashlib.sha256(blob).hexdigest(), "onnx_classes": classes,
                        "threshold": choice["threshold"], "family": choice["family"], "C": choice["C"],
                        "inner_cv_window_auc": choice["inner_cv_window_auc"]}  # fmt: skip
        log.info("%s: %s C=%g threshold %.3f", sig, choice["family"], choice["C"], choice["threshold"])
    assert base is not None
    spec: dict[str, Any] = {
        "feature_version": F.FEATURE_VERSION,
        "feature_names": list(F.FEATURE_NAMES),
        "sample_rate": F.SAMPLE_RATE,
        "band_hz": list(F.BAND_HZ),
        "window_s": F.WINDOW_S,
        "hop_s": F.HOP_S,
        "min_voiced_s": F.MIN_VOICED_S,
        "signals": signals,
        "baseline": {
            "pop_mean": [round(float(v), 6) for v in base.pop_mean],
            "pop_std": [round(float(v), 6) for v in base.pop_std],
            "prior_weight": base.prior_weight,
            "max_windows": base.max_windows,
            "trained_on": "each window twice: calm-opening speaker baseline and population statistics only",
        },
        "training": {
            "corpora": {c.name: len(next(iter(c.cf.values())).clips) for c in corpora},
            "conditions": sorted(next(iter(corpora[0].cf))),
            "seed": args.seed,
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for sig, blob in blobs.items():
        (args.out / MODEL_FILES[sig]).write_bytes(blob)
    (args.out / SPEC_FILE).write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    EmotionModel(args.out).load()  # the exported files load and match the code

    from models.emotion.training.crosscorpus import cross_corpus

    rows = cross_corpus(corpora, args.seed) if len(corpora) > 1 else []
    metrics = {"cross_corpus": rows, "train_seconds": round(time.time() - t0, 1)}
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    text_table = table(rows) if rows else "(one corpus only: no cross-corpus numbers)"
    _update_card(args.out / "MODEL_CARD.md", text_table)
    print(text_table)
    print(f"\nmodel: {', '.join(MODEL_FILES.values())} in {args.out}, {metrics['train_seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
