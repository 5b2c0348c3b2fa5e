"""The call summary's emotion arc on real audio, through the real model and the live path.

    python -m bench.emotion_arc_audio [--data DIR] [--condition clean|telephone] [--ravdess 01,08,...]

Acted arcs, one speaker each, built from the labelled corpora in ``DIR/emotion`` (RAVDESS:
neutral + calm clips vs angry clips; CASIA: neutral vs angry): ``calm`` (calm clips only),
``escalating`` (calm, then angry), ``de_escalated`` (angry, then calm), ``upset_throughout``
(angry only), clips half a second apart like turns.  Each is run through the live engine
(``bench.emotion_steadiness.run_channel``: frames, the exported ONNX model, baseline gating,
smoothing, hysteresis), the readings are applied to a call's state as the streams worker does
(``streams.assist.step.apply_record``), the stored call is built (``Assistant.summary``) and
summarised (``assist_ui.call_summary.summarise``); the arc is voice-only (there is no
transcript).  The shipped model is TRAINED on RAVDESS and CASIA, so this checks the path, not
how the model generalises.  Also the calm real recordings the steadiness tests use
(``speech/zh_magicdata`` ``general_*`` / ``tourism_*`` sentences concatenated), which should come
out ``calm``.  Prints one JSON line per arc and a summary line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from assist_ui.call_summary import summarise
from bench.emotion_steadiness import run_channel
from models.emotion.model import EmotionModel
from models.emotion.training.corpus import condition_audio, load_audio
from streams.assist.assistant import Assistant
from streams.assist.callstate import CallState
from streams.assist.step import apply_record
from streams.contract.records import EmotionReading

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
GAP_S = 0.5
ARCS = ("calm", "escalating", "de_escalated", "upset_throughout")
# the calm real recordings of the steadiness tests (tests/integration/test_emotion_steadiness.py)
REAL_FILES = ("speech/en_8k_ivr_basic-pbx-ivr-main.wav", "speech/en_jfk.flac", "speech/zh_azure_zhcn_continuous_mode_sample.wav",
              "speech/zh_wenetspeech_meeting_T0000000001.wav", "calls/auto_repairs_40_caller.wav")
SAMPLE_TRANSCRIPT = Path(__file__).resolve().parents[1] / "tests" / "data" / "dialogues" / "sample_auto_repairs_40.jsonl"
N_CLIPS = 8  # clips per half (calm-only / angry-only use 2 * N_CLIPS... capped by what a speaker has)


def arc_of_readings(assistant: Assistant, call_id: str, readings: list[EmotionReading],
                    transcript: list[dict] | None = None) -> dict:
    """The arc of the stored call the streams worker builds from these readings (and, when
    given, the call's customer lines: the summary reads them from the stored transcript)."""
    stored: dict | None = None
    for r in readings:
        _, new = apply_record(assistant, "emotion", r, stored)
        stored = new if new is not None else stored
    state = CallState.from_dict(stored) if stored else CallState(call_id)
    call = assistant.summary(state)
    if transcript is not None:
        call["transcript"] = transcript
    return summarise(call)["emotion"]


def join_clips(paths: list[Path], condition: str) -> tuple[np.ndarray, int]:
    clips = [condition_audio(*load_audio(p), condition) for p in paths]
    sr = clips[0][1]
    gap = np.zeros(int(sr * GAP_S), np.float32)
    return np.concatenate([np.concatenate([c.astype(np.float32), gap]) for c, _ in clips]), sr


def acted_plans(calm: list[Path], angry: list[Path]) -> Iterator[tuple[str, list[Path]]]:
    n = min(N_CLIPS, len(calm) // 2, len(angry) // 2)
    yield "calm", calm[: 2 * n]
    yield "escalating", calm[:n] + angry[:n]
    yield "de_escalated", angry[:n] + calm[n: 2 * n]
    yield "upset_throughout", angry[: 2 * n]


def speakers(data: Path, ravdess: list[str]) -> Iterator[tuple[str, list[Path], list[Path]]]:
    for actor in ravdess:
        d = data / "emotion" / "ravdess" / f"Actor_{actor}"
        yield f"ravdess_{actor}", sorted(d.glob("03-01-0[12]-*.flac")), sorted(d.glob("03-01-05-*.flac"))
    casia = data / "emotion" / "casia" / "wav"
    for spk in sorted({p.name.split("_")[0] for p in casia.glob("*_neutral_*.flac")}):
        yield f"casia_{spk}", sorted(casia.glob(f"{spk}_neutral_*.flac")), sorted(casia.glob(f"{spk}_angry_*.flac"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.emotion_arc_audio")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--condition", choices=("clean", "telephone"), default="clean")
    p.add_argument("--ravdess", default="01,04,08,13,20,24", help="RAVDESS actors (comma-separated)")
    args = p.parse_args(argv)
    model = EmotionModel().load()
    assistant = Assistant.from_files()
    confusion: dict[str, dict[str, int]] = {a: {} for a in ARCS}
    for name, calm, angry in speakers(args.data, [a for a in args.ravdess.split(",") if a]):
        for want, paths in acted_plans(calm, angry):
            y, sr = join_clips(paths, args.condition)
            call_id = f"{name}:{want}"
            e = arc_of_readings(assistant, call_id, run_channel(model, y, sr, call_id, "customer"))
            confusion[want][e["arc"]] = confusion[want].get(e["arc"], 0) + 1
            print(json.dumps({"speaker": name, "acted": want, "arc": e["arc"], "seconds": round(y.size / sr, 1),
                              "start": e["start"], "peak": e["peak"], "end": e["end"], "reasons": e["reasons"]},
                             ensure_ascii=False), flush=True)
    real = []
    recordings = [(f"zh_magicdata {d}_*", sorted((args.data / "speech" / "zh_magicdata").glob(f"{d}_*.flac")))
                  for d in ("general", "tourism")] + [(rel, [args.data / rel]) for rel in REAL_FILES]
    for label, files in recordings:
        if not files or not files[0].exists():
            continue
        y, sr = join_clips(files, args.condition)
        e = arc_of_readings(assistant, label, run_channel(model, y, sr, label, "customer"))
        real.append({"recording": label, "arc": e["arc"],
                     "seconds": round(y.size / sr, 1), "start": e["start"], "peak": e["peak"], "end": e["end"],
                     "reasons": e["reasons"]})
        print(json.dumps(real[-1], ensure_ascii=False), flush=True)
    # the bundled real call: its real voice readings with its real transcript (Whisper base on
    # the same file, tests/data/dialogues/sample_auto_repairs_40.jsonl), as the summary sees it
    caller = args.data / "calls" / "auto_repairs_40_caller.wav"
    if caller.exists() and SAMPLE_TRANSCRIPT.exists():
        y, sr = join_clips([caller], args.condition)
        lines = [json.loads(x) for x in SAMPLE_TRANSCRIPT.read_text(encoding="utf-8").splitlines() if x.strip()]
        segs = [x for x in lines if "segment_id" in x and "text" in x]
        e = arc_of_readings(assistant, "sample", run_channel(model, y, sr, "sample", "customer"), segs)
        real.append({"recording": "calls/auto_repairs_40_caller.wav + its transcript", "arc": e["arc"],
                     "evidence": e["evidence"], "start": e["start"], "peak": e["peak"], "end": e["end"],
                     "reasons": e["reasons"]})
        print(json.dumps(real[-1], ensure_ascii=False), flush=True)
    acted = sum(sum(v.values()) for v in confusion.values())
    right = sum(confusion[a].get(a, 0) for a in ARCS)
    print(json.dumps({"condition": args.condition, "acted_arcs": acted, "acted_correct": right,
                      "acted_accuracy": round(right / acted, 3) if acted else None, "confusion": confusion,
                      "real_calm": [(r["recording"], r["arc"]) for r in real]}, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
