"""What the ASR benchmarks measure with: the shared clips, percentiles, CPU time and memory."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np
import soundfile as sf

from pipeline.asr.offline import AudioFile

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CALL = SHARED / "calls"
SPEECH = SHARED / "speech"
REFERENCE = ROOT / "bench" / "data" / "auto_repairs_40.reference.json"
RESULTS = ROOT / "bench" / "results"


def stable_end(seg) -> float:
    """Audio end of the words a partial marks stable (``stable_len`` leading characters)."""
    end, length = -1.0, 0
    for w in seg.words:
        length += len(w.text) if length else len(w.text.lstrip())
        if length > seg.stable_len:
            break
        end = w.end
    return end


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def load_call(seconds: float | None = None, call_id: str = "auto_repairs_40", folder: Path = CALL) -> AudioFile:
    a, rate = sf.read(str(folder / "auto_repairs_40_agent.wav"), dtype="float32")
    c, _ = sf.read(str(folder / "auto_repairs_40_caller.wav"), dtype="float32")
    if seconds:
        a, c = a[: int(seconds * rate)], c[: int(seconds * rate)]
    return AudioFile(call_id, int(rate), {"agent": a, "customer": c})


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1e6
