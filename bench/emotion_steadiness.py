"""How steady the panel state is on a recording: the figures the issue's targets are stated in.

Used by the integration tests and ``python -m bench.emotion_steadiness FILE...`` (which
prints them), both on the live engine path (``offline.frames_of`` + ``EmotionEngine``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.emotion.model import EmotionModel
from pipeline.emotion.engine import EmotionEngine
from pipeline.emotion.offline import frames_of, read_channels
from streams.contract.records import EmotionReading


@dataclass
class Steadiness:
    name: str
    seconds: float
    windows: int  # voiced windows (readings)
    changes: int
    changes_per_min: float
    agitated_share: float  # of voiced windows
    hints: dict[str, float]  # hint -> share of voiced windows it was shown on


def run_channel(model: EmotionModel, y: np.ndarray, sr: int, call_id: str, channel: str) -> list[EmotionReading]:
    engine = EmotionEngine(model, clock=lambda: 0.0)
    return engine.process(list(frames_of(call_id, channel, y, sr))) + engine.flush_call(call_id)


def run_call(model: EmotionModel, channels: dict[str, np.ndarray], sr: int, call_id: str) -> list[EmotionReading]:
    """Both channels of one call, frames interleaved in call time as they arrive live."""
    engine = EmotionEngine(model, clock=lambda: 0.0)
    frames = [f for ch, y in channels.items() for f in frames_of(call_id, ch, y, sr)]
    return engine.process(sorted(frames, key=lambda f: (f.start, f.channel))) + engine.flush_call(call_id)


def measure(name: str, readings: list[EmotionReading], seconds: float) -> Steadiness:
    n = len(readings)
    changes = sum(r.state_changed for r in readings)
    hints: dict[str, float] = {}
    for r in readings:
        for h in r.hints:
            hints[h] = hints.get(h, 0.0) + 1.0 / n
    return Steadiness(
        name, round(seconds, 1), n, changes, round(changes / max(seconds / 60.0, 1e-9), 2),
        round(sum(r.state == "agitated" for r in readings) / n, 3) if n else 0.0,
        {k: round(v, 3) for k, v in sorted(hints.items())},
    )  # fmt: skip


def escalation_latency(readings: list[EmotionReading], onset: float) -> float | None:
    """Seconds from ``onset`` until the state first shows agitated after it (None: never)."""
    for r in sorted(readings, key=lambda r: r.end):
        if r.end > onset and r.state == "agitated":
            return round(r.end - onset, 2)
    return None


def main(argv: list[str] | None = None) -> int:
    """Figures per channel of each FILE; ``--call AGENT.wav CUSTOMER.wav`` scores two mono files as one call."""
    args = list(argv if argv is not None else sys.argv[1:])
    model = EmotionModel().load()
    if args[:1] == ["--call"] and len(args) == 3:
        agent, sr = read_channels(Path(args[1]), "agent")
        cust, sr2 = read_channels(Path(args[2]), "customer")
        if sr != sr2:
            raise SystemExit("both files of a call need the same sample rate")
        chans = {"agent": agent["agent"], "customer": cust["customer"]}
        readings = run_call(model, chans, sr, Path(args[2]).stem)
        for ch, y in chans.items():
            s = measure(f"{Path(args[1 if ch == 'agent' else 2]).name}:{ch}", [r for r in readings if r.channel == ch], y.size / sr)
            print(json.dumps(asdict(s), ensure_ascii=False), flush=True)
        return 0
    for path in map(Path, args):
        channels, sr = read_channels(path, "customer")
        for ch, y in channels.items():
            s = measure(f"{path.name}:{ch}", run_channel(model, y, sr, path.stem, ch), y.size / sr)
            print(json.dumps(asdict(s), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
