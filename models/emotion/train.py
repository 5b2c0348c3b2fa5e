"""Train, evaluate (speaker-independent) and export the prosody emotion model.

    python -m models.emotion.train --data ../shared/data/emotion --out models/emotion

Steps (all seeded, so the same data gives the same model):
1. discover labelled clips (RAVDESS names or labels.csv, see models.emotion.dataset);
2. window features for the clean clips and for telephone copies (8 kHz µ-law, 300-3400 Hz),
   cached in var/emotion_cache;
3. hold out a set of speakers for the final test (default: the last quarter in sorted order,
   RAVDESS actors 19-24); on the other speakers, choose the regularisation C and the
   agitated threshold by speaker-grouped cross-validation;
4. fit on all training speakers (clean + telephone windows), export ONNX + feature spec;
5. score the *exported ONNX file* on the held-out speakers, clean and telephone, and write
   metrics.json and the table in MODEL_CARD.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from models.emotion import features as F
from models.emotion.corpus import CONDITIONS, CorpusFeatures, corpus_features
from models.emotion.dataset import AGITATED, CLASSES, Clip, discover
from models.emotion.evaluation import best_threshold, clip_probs, report, speaker_normalised
from models.emotion.metrics import binary_auc, scores
from models.emotion.model import MODEL_FILE, SPEC_FILE, EmotionModel

log = logging.getLogger("models.emotion.train")

C_GRID = (0.03, 0.1, 0.3, 1.0)


def _classifier(c: float) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # A linear model on ~50 prosodic features: it transfers to unseen speakers, sentences
    # and corpora better than an RBF-SVM or MLP of similar cross-validated accuracy (the
    # train-on-one-sentence/test-on-the-other check in the model card).
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000, class_weight="balanced"))


def _split_speakers(clips: list[Clip], test_speakers: list[str] | None, fraction: float) -> tuple[list[str], list[str]]:
    speakers = sorted({c.speaker for c in clips}, key=_natural)
    if test_speakers:
        unknown = set(test_speakers) - set(speakers)
        if unknown:
            raise SystemExit(f"unknown test speaker(s): {', '.join(sorted(unknown))}")
        test = [s for s in speakers if s in test_speakers]
    else:
        test = speakers[len(speakers) - max(1, round(len(speakers) * fraction)) :]
    train = [s for s in speakers if s not in test]
    if len(train) < 2:
        raise SystemExit(f"need at least 2 training speakers, got {len(train)}")
    return train, test


def _natural(s: str) -> list[object]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


class Data:
    """Features of both conditions with per-window speaker/label arrays."""

    def __init__(self, clips: list[Clip], cache: Path | None, conditions: tuple[str, ...]) -> None:
        self.clips = clips
        self.cf: dict[str, CorpusFeatures] = {c: corpus_features(clips, c, cache) for c in conditions}
        spk = np.array([c.speaker for c in clips])
        lab = np.array([c.cls or "" for c in clips])
        self.spk = {c: spk[f.clip] for c, f in self.cf.items()}
        self.lab = {c: lab[f.clip] for c, f in self.cf.items()}


def _normalise_all(
    data: Data, pop_mean: np.ndarray, pop_std: np.ndarray, args: argparse.Namespace, seed: int, opening: str = "calm"
) -> dict[str, np.ndarray]:
    return {
        c: speaker_normalised(f, pop_mean, pop_std, args.prior_weight, args.baseline_windows, seed * 100 + i, opening)
        for i, (c, f) in enumerate(data.cf.items())
    }


def _spread(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and standard deviation of the headline numbers over baseline draws."""
    out: dict[str, Any] = {}
    for cond in runs[0]:
        out[cond] = {}
        for task in ("four_class", "agitated", "agitated_all_emotions"):
            out[cond][task] = {}
            for k in ("accuracy", "uar", "auc"):
                vals = [r[cond][task][k] for r in runs if k in r[cond][task]]
                if vals:
                    out[cond][task][k] = {"mean": float(np.mean(vals)), "sd": float(np.std(vals))}
    return out


def _fit(data: Data, z: dict[str, np.ndarray], speakers: list[str], c: float) -> Any:
    xs, ys = [], []
    for cond in data.cf:
        m = np.isin(data.spk[cond], speakers) & (data.lab[cond] != "")
        xs.append(z[cond][m])
        ys.append(data.lab[cond][m])
    return _classifier(c).fit(np.concatenate(xs), np.concatenate(ys))


def _sk_predict(model: Any):
    order = [list(model.classes_).index(c) for c in CLASSES]
    return lambda x: model.predict_proba(x)[:, order]


def _cross_validate(data: Data, z: dict[str, np.ndarray], train: list[str], folds: int) -> tuple[float, float, dict]:
    """Choose C (mean of telephone 4-class UAR and agitated AUC) and the agitated threshold."""
    groups = [train[i::folds] for i in range(folds)]
    results: dict[float, dict[str, Any]] = {}
    for c in C_GRID:
        labels: list[str] = []
        probs: list[np.ndarray] = []
        tel_labels: list[str] = []
        tel_probs: list[np.ndarray] = []
        for held in groups:
            model = _fit(data, z, [s for s in train if s not in held], c)
            for cond, f in data.cf.items():
                keep = np.isin(data.spk[cond], held) & (data.lab[cond] != "")
                uniq, p = clip_probs(f, z[cond], _sk_predict(model), keep)
                labs = [data.clips[i].cls for i in uniq]
                labels += labs  # type: ignore[arg-type]
                probs.append(p)
                if cond == "telephone":
                    tel_labels += labs  # type: ignore[arg-type]
                    tel_probs.append(p)
        pa, pt = np.concatenate(probs), np.concatenate(tel_probs) if tel_probs else np.concatenate(probs)
        tl = tel_labels or labels
        r = report(tl, pt, 0.5)
        score = 0.5 * (r["four_class"]["uar"] + r["agitated"]["auc"])  # type: ignore[index]
        results[c] = {"score": score, "threshold": best_threshold(labels, pa), "four_class_uar": r["four_class"]["uar"]}  # type: ignore[index]
        log.info("CV C=%g: telephone 4-class UAR %.3f, agitated AUC %.3f", c, r["four_class"]["uar"], r["agitated"]["auc"])  # type: ignore[index]
    best = max(results, key=lambda c: results[c]["score"])
    return best, results[best]["threshold"], results


def _export(model: Any, out: Path, spec: dict[str, Any]) -> None:
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
    blob = onx.SerializeToString()
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_FILE).write_bytes(blob)
    spec["model"]["sha256"] = hashlib.sha256(blob).hexdigest()
    spec["model"]["onnx_classes"] = [str(c) for c in clf.classes_]
    (out / SPEC_FILE).write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")


def _held_out(data: Data, z: dict[str, np.ndarray], test: list[str], model: EmotionModel) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for cond, f in data.cf.items():
        keep = np.isin(data.spk[cond], test) & (data.lab[cond] != "")
        uniq, p = clip_probs(f, z[cond], model.predict, keep)
        labels = [data.clips[i].cls for i in uniq]
        r = report(labels, p, model.agitated_threshold)  # type: ignore[arg-type]
        # agitated vs *every* other acted emotion (fear, disgust, surprise included): harder
        keep_all = np.isin(data.spk[cond], test)
        uniq_a, pa = clip_probs(f, z[cond], model.predict, keep_all)
        ag = [data.clips[i].label == AGITATED for i in uniq_a]
        p_ag = pa[:, CLASSES.index(AGITATED)]
        allr = scores(
            ["agitated" if a else "not" for a in ag],
            ["agitated" if p >= model.agitated_threshold else "not" for p in p_ag],
            ["agitated", "not"],
        )
        allr["auc"] = binary_auc(ag, p_ag)
        r["agitated_all_emotions"] = allr
        r["clips_without_voice"] = int(sum(1 for i, c in enumerate(data.clips) if c.speaker in test and c.cls) - len(uniq))
        out[cond] = r
    return out


def _cross_sentence(data: Data, z: dict[str, np.ndarray], train: list[str], test: list[str], c: float, thr: float) -> dict[str, Any]:
    """Train on one sentence, test on the other (held-out speakers): a content-overfit check."""
    sentences = sorted({cl.sentence for cl in data.clips if cl.sentence})
    if len(sentences) < 2:
        return {}
    sent = {cond: np.array([data.clips[i].sentence for i in f.clip]) for cond, f in data.cf.items()}
    out: dict[str, Any] = {}
    xs, ys = [], []
    for cond in data.cf:
        m = np.isin(data.spk[cond], train) & (data.lab[cond] != "") & (sent[cond] == sentences[0])
        xs.append(z[cond][m])
        ys.append(data.lab[cond][m])
    model = _classifier(c).fit(np.concatenate(xs), np.concatenate(ys))
    for cond, f in data.cf.items():
        keep = np.isin(data.spk[cond], test) & (data.lab[cond] != "") & (sent[cond] == sentences[1])
        uniq, p = clip_probs(f, z[cond], _sk_predict(model), keep)
        out[cond] = report([data.clips[i].cls for i in uniq], p, thr)  # type: ignore[misc]
    return out


def _calm_recordings(paths: list[Path], model: EmotionModel) -> list[dict[str, Any]]:
    """False-alarm proxy on real, unlabelled, calm recordings (other corpora/languages/phones).

    Each file channel is scored window by window with the live baseline logic (first windows
    learn the speaker's normal voice), and we count windows the model calls agitated.
    """
    from models.emotion.corpus import load_audio

    out = []
    for path in paths:
        y, sr = load_audio(path)
        baseline = model.new_baseline()
        n = agitated = 0
        top = dict.fromkeys(CLASSES, 0)
        for a, b in F.window_bounds(y.size, sr):
            w = F.extract(y[a:b], sr)
            if w.vector is None:
                continue
            baseline.update(w.vector)
            p = model.predict(baseline.normalize(w.vector))[0]
            n += 1
            agitated += int(p[CLASSES.index(AGITATED)] >= model.agitated_threshold)
            top[CLASSES[int(np.argmax(p))]] += 1
        out.append({"file": path.name, "windows": n, "agitated_share": agitated / n if n else 0.0, "top_class": top})
    return out


def _card_table(metrics: dict[str, Any]) -> str:
    n = metrics["eval_draws"]
    rows = [
        f"Held-out rows: mean ± sd over {n} random baseline draws (n = clips with voiced speech).",
        "",
        "| test set (held-out speakers) | condition | n | 4-class acc | 4-class UAR | agitated acc | agitated UAR | agitated AUC |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def ms(d: dict[str, Any], k: str) -> str:
        return f"{d[k]['mean']:.3f} ± {d[k]['sd']:.3f}" if k in d else "–"

    def row(name: str, cond: str, r: dict[str, Any]) -> str:
        fc, ag = r["four_class"], r["agitated"]
        return (
            f"| {name} | {cond} | {fc['n']} | {fc['accuracy']:.3f} | {fc['uar']:.3f} | {ag['accuracy']:.3f} | "
            f"{ag['uar']:.3f} | {ag['auc']:.3f} |"
        )

    who = ", ".join(metrics["test_speakers_short"])
    label = {
        "calm": "baseline from a calm opening",
        "mixed": "baseline from a mixed-emotion opening",
    }
    for opening, draws in metrics["held_out_baseline_draws"].items():
        for cond, r in draws.items():
            fc, ag = r["four_class"], r["agitated"]
            n_clips = metrics["held_out"][cond]["four_class"]["n"]
            name = f"{who}; {label[opening]}" if opening == "calm" else f"same speakers; {label[opening]}"
            rows.append(
                f"| {name} | {cond} | {n_clips} | {ms(fc, 'accuracy')} | {ms(fc, 'uar')} | {ms(ag, 'accuracy')} | "
                f"{ms(ag, 'uar')} | {ms(ag, 'auc')} |"
            )
    for cond, r in metrics["held_out_baseline_draws"]["calm"].items():
        a = r["agitated_all_emotions"]
        n_clips = metrics["held_out"][cond]["agitated_all_emotions"]["n"]
        rows.append(
            f"| same speakers, calm opening, angry vs all 7 other emotions | {cond} | {n_clips} | – | – | "
            f"{ms(a, 'accuracy')} | {ms(a, 'uar')} | {ms(a, 'auc')} |"
        )
    rows += ["", "Single runs (baseline draw of seed 0 where there is one):", ""]
    rows += rows[2:4]
    for cond, r in metrics.get("cross_sentence", {}).items():
        rows.append(row("same speakers, calm opening, trained on sentence 1 only, tested on sentence 2", cond, r))
    for cond, r in metrics["cv"]["held_out_no_baseline"].items():
        rows.append(row("same speakers, no baseline yet (population statistics only)", cond, r))
    if metrics.get("calm_recordings"):
        rows += [
            "",
            "Real recordings that are not agitated (unlabelled, other speakers, phones, languages): share of voiced",
            "windows the model calls agitated (a false-alarm proxy), and the top class per window.",
            "",
            "| recording | voiced windows | agitated share | top class: neutral / angry / sad / happy |",
            "|---|---|---|---|",
        ]
        for r in metrics["calm_recordings"]:
            t = r["top_class"]
            rows.append(
                f"| {r['file']} | {r['windows']} | {r['agitated_share']:.2f} | "
                f"{t['neutral']} / {t['angry']} / {t['sad']} / {t['happy']} |"
            )
    return "\n".join(rows)


def _update_card(card: Path, table: str) -> None:
    if not card.is_file():
        return
    text = card.read_text(encoding="utf-8")
    start, end = "<!-- metrics:start -->", "<!-- metrics:end -->"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        card.write_text(f"{head}{start}\n{table}\n{end}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.emotion.train", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("../shared/data/emotion"), help="labelled folder")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="where the model goes")
    ap.add_argument("--cache", type=Path, default=Path("var/emotion_cache"), help="feature cache ('' = none)")
    ap.add_argument("--test-speakers", default="", help="comma-separated held-out speakers (default: last quarter)")
    ap.add_argument("--test-fraction", type=float, default=0.25)
    ap.add_argument("--folds", type=int, default=6, help="speaker-grouped CV folds on the training speakers")
    ap.add_argument("--baseline-windows", type=int, default=30, help="windows in a speaker/caller baseline")
    ap.add_argument("--prior-weight", type=float, default=2.0, help="population prior weight in the baseline")
    ap.add_argument(
        "--calm-recordings", type=Path, nargs="*", default=[], help="unlabelled calm recordings: false-alarm check"
    )
    ap.add_argument("--clean-only", action="store_true", help="no telephone-band copies (not recommended)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--eval-draws", type=int, default=10, help="baseline draws averaged in the held-out scores")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    t0 = time.time()

    clips = discover(args.data)
    train, test = _split_speakers(clips, [s for s in args.test_speakers.split(",") if s], args.test_fraction)
    conditions = ("clean",) if args.clean_only else CONDITIONS
    log.info("%d clips, %d training / %d held-out speakers", len(clips), len(train), len(test))
    data = Data(clips, Path(args.cache) if str(args.cache) else None, conditions)

    # population statistics from training speakers only (the baseline prior)
    pool = np.concatenate([f.X[np.isin(data.spk[c], train)] for c, f in data.cf.items()])
    pop_mean, pop_std = pool.mean(axis=0), pool.std(axis=0) + 1e-6
    z = _normalise_all(data, pop_mean, pop_std, args, args.seed)
    folds = min(args.folds, len(train))
    c_best, threshold, cv = _cross_validate(data, z, train, folds)
    log.info("chose C=%g, agitated threshold %.2f", c_best, threshold)
    model = _fit(data, z, train, c_best)

    spec: dict[str, Any] = {
        "feature_version": F.FEATURE_VERSION,
        "feature_names": list(F.FEATURE_NAMES),
        "sample_rate": F.SAMPLE_RATE,
        "band_hz": list(F.BAND_HZ),
        "window_s": F.WINDOW_S,
        "hop_s": F.HOP_S,
        "min_voiced_s": F.MIN_VOICED_S,
        "classes": list(CLASSES),
        "agitated_class": AGITATED,
        "agitated_threshold": threshold,
        "baseline": {
            "pop_mean": [round(float(v), 6) for v in pop_mean],
            "pop_std": [round(float(v), 6) for v in pop_std],
            "prior_weight": args.prior_weight,
            "max_windows": args.baseline_windows,
            "opening": "calm (trained with baselines from each speaker's neutral/calm windows)",
        },
        "model": {"type": "StandardScaler+LogisticRegression(class_weight=balanced)", "C": c_best},
        "training": {
            "data": str(args.data),
            "clips": len(clips),
            "train_speakers": train,
            "test_speakers": test,
            "conditions": list(conditions),
            "seed": args.seed,
        },
    }
    _export(model, args.out, spec)
    onnx_model = EmotionModel(args.out).load()  # evaluate the exported file itself

    metrics: dict[str, Any] = {
        "test_speakers": test,
        "test_speakers_short": [_short(s) for s in test],
        "chosen_C": c_best,
        "agitated_threshold": threshold,
        "held_out": _held_out(data, z, test, onnx_model),
        # the per-speaker baseline is a random sample of each test speaker's windows: report
        # the spread over several draws, not one lucky (or unlucky) one
        "held_out_baseline_draws": {
            opening: _spread(
                [
                    _held_out(data, _normalise_all(data, pop_mean, pop_std, args, args.seed + k, opening), test, onnx_model)
                    for k in range(args.eval_draws)
                ]
            )
            for opening in ("calm", "mixed")
        },
        "eval_draws": args.eval_draws,
        "cross_sentence": _cross_sentence(data, z, train, test, c_best, threshold),
        "cv": {str(c): v for c, v in cv.items()},
    }
    # the same model when a call has no baseline yet (population statistics only)
    z0 = {c: ((f.X - pop_mean) / pop_std).astype(np.float32) for c, f in data.cf.items()}
    metrics["cv"]["held_out_no_baseline"] = {
        cond: report(
            [data.clips[i].cls for i in u],  # type: ignore[misc]
            p,
            threshold,
        )
        for cond, f in data.cf.items()
        for u, p in [clip_probs(f, z0[cond], onnx_model.predict, np.isin(data.spk[cond], test) & (data.lab[cond] != ""))]
    }
    metrics["calm_recordings"] = _calm_recordings(args.calm_recordings, onnx_model)
    metrics["train_seconds"] = round(time.time() - t0, 1)
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    table = _card_table(metrics)
    _update_card(args.out / "MODEL_CARD.md", table)
    print(table)
    print(f"\nmodel: {args.out / MODEL_FILE} ({(args.out / MODEL_FILE).stat().st_size} bytes), C={c_best}, "
          f"agitated threshold {threshold:.2f}, {metrics['train_seconds']} s")
    return 0


def _short(speaker: str) -> str:
    return speaker.replace("ravdess-", "actor ")


if __name__ == "__main__":
    sys.exit(main())
