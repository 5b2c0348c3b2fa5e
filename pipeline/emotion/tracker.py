"""Pure per-channel logic of the emotion worker: windowing, smoothing, hysteresis, agent hints.

No Kafka, no model, no I/O: everything here is deterministic given its inputs, so it is
unit-tested directly, and the live worker and the offline ``score`` command share it.
The per-caller *feature* baseline lives in :mod:`models.emotion.baseline` because training
uses the very same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


# ---------------------------------------------------------------------------------------
# windowing
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Window:
    index: int  # hop number since the stream's time origin: a stable idempotency key
    start: float  # call time (s)
    end: float
    samples: np.ndarray


class Windower:
    """Cuts one channel's sample stream into analysis windows.

    A window ends every ``hop_s`` of stream time and covers the ``window_s`` before it
    (shorter at the start); :meth:`flush` adds a last window when at least half a hop is
    left, so a finished file yields exactly ``features.window_bounds``.  Memory is bounded
    by one window of samples.  Gaps in the stream (lost frames) are filled with silence up
    to one window; a longer gap restarts the window grid at the new audio.
    """

    def __init__(self, sample_rate: int, window_s: float, hop_s: float, origin: float = 0.0) -> None:
        self.sr = sample_rate
        self.win = int(round(window_s * sample_rate))
        self.hop = int(round(hop_s * sample_rate))
        if self.hop <= 0 or self.win < self.hop:
            raise ValueError("need 0 < hop_s <= window_s")
        self.origin = origin  # call time of sample 0
        self.pos = 0  # samples pushed since origin
        self._buf = np.zeros(0, dtype=np.float32)
        self._last_end = 0  # sample position of the last emitted window end

    @property
    def time(self) -> float:
        """Call time just after the last pushed sample."""
        return self.origin + self.pos / self.sr

    def push(self, samples: np.ndarray, start: float | None = None) -> list[Window]:
        """Append samples (whose first sample is at call time ``start`` if known)."""
        out: list[Window] = []
        if start is not None and self.pos > 0:
            gap = int(round((start - self.time) * self.sr))
            if gap > self.win:  # long outage: restart the grid at the new audio
                self.origin, self.pos, self._last_end = start, 0, 0
                self._buf = np.zeros(0, dtype=np.float32)
            elif gap > self.sr // 50:  # > 20 ms missing: keep time honest with silence
                out += self._append(np.zeros(gap, dtype=np.float32))
        elif start is not None:
            self.origin = start
        out += self._append(np.asarray(samples, dtype=np.float32))
        return out

    def _append(self, samples: np.ndarray) -> list[Window]:
        out = []
        i = 0
        while i < samples.size:
            next_end = (self.pos // self.hop + 1) * self.hop
            take = min(samples.size - i, next_end - self.pos)
            self._buf = np.concatenate((self._buf, samples[i : i + take]))[-self.win :]
            self.pos += take
            i += take
            if self.pos == next_end:
                out.append(self._window())
        return out

    def _window(self) -> Window:
        self._last_end = self.pos
        start = max(0, self.pos - self.win)
        idx = int(round(self.pos / self.hop))
        return Window(idx, self.origin + start / self.sr, self.origin + self.pos / self.sr, self._buf.copy())

    def flush(self) -> list[Window]:
        """The final partial window of a finished stream (if at least half a hop is left)."""
        if self.pos - self._last_end >= self.hop // 2 and self.pos > 0:
            return [self._window()]
        return []


# ---------------------------------------------------------------------------------------
# smoothing + hysteresis
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StateConfig:
    classes: Sequence[str] = ("neutral", "angry", "sad", "happy")
    default: str = "neutral"
    alpha: float = 0.5  # EMA weight of the newest window (hop 1 s: ~2 s time constant)
    enter: dict[str, float] = field(default_factory=lambda: {"angry": 0.40, "sad": 0.50, "happy": 0.50})
    exit: dict[str, float] = field(default_factory=lambda: {"angry": 0.25, "sad": 0.35, "happy": 0.35})
    min_windows: int = 2  # a new state must hold this many consecutive windows
    agitated: str = "angry"


@dataclass(frozen=True, slots=True)
class StateUpdate:
    smoothed: dict[str, float]
    arousal: float  # smoothed probability of the agitated class
    state: str
    changed: bool


class StateTracker:
    """EMA-smoothed probabilities and a hysteresis state machine, so the panel does not flicker.

    A non-default state is entered only when its smoothed probability passes its ``enter``
    level (and beats the current state) for ``min_windows`` consecutive windows, and left
    only when it falls below the lower ``exit`` level.  Silent windows are never passed in:
    silence neither claims an emotion nor moves the state.
    """

    def __init__(self, cfg: StateConfig) -> None:
        self.cfg = cfg
        self.smoothed: np.ndarray | None = None
        self.state = cfg.default
        self._pending: str | None = None
        self._pending_n = 0

    def update(self, probs: Sequence[float]) -> StateUpdate:
        p = np.asarray(probs, dtype=np.float64)
        if p.shape != (len(self.cfg.classes),):
            raise ValueError(f"expected {len(self.cfg.classes)} probabilities, got shape {p.shape}")
        a = self.cfg.alpha
        self.smoothed = p.copy() if self.smoothed is None else a * p + (1.0 - a) * self.smoothed
        sm = dict(zip(self.cfg.classes, (float(v) for v in self.smoothed), strict=True))
        target = self._target(sm)
        changed = False
        if target == self.state:
            self._pending, self._pending_n = None, 0
        else:
            self._pending_n = self._pending_n + 1 if target == self._pending else 1
            self._pending = target
            if self._pending_n >= self.cfg.min_windows:
                self.state, changed = target, True
                self._pending, self._pending_n = None, 0
        return StateUpdate(sm, sm[self.cfg.agitated], self.state, changed)

    def _target(self, sm: dict[str, float]) -> str:
        cfg = self.cfg
        cur = self.state
        # strongest class above its entry level (agitation first: it is what the agent must see)
        entering = [c for c in cfg.enter if sm[c] >= cfg.enter[c]]
        entering.sort(key=lambda c: (c != cfg.agitated, -sm[c]))
        if cur != cfg.default:
            if sm[cur] < cfg.exit.get(cur, 0.0):  # fell below the exit level: leave
                return next((c for c in entering if c != cur), cfg.default)
            # stay unless agitation takes over, or another class clearly dominates
            for c in entering:
                if c != cur and (c == cfg.agitated or sm[c] > sm[cur] + 0.1):
                    return c
            return cur
        return entering[0] if entering else cfg.default


# ---------------------------------------------------------------------------------------
# agent delivery hints
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HintConfig:
    baseline_windows: int = 10  # the agent's own normal pace/level: median of the first windows
    fast_ratio: float = 1.3  # speaking rate above 130 % of the agent's own baseline ...
    fast_abs: float = 5.5  # ... and above this many syllable-like peaks per second
    loud_db: float = 6.0  # louder than the baseline by this much
    flat_st: float = 1.2  # pitch variability below this (semitones) = monotone
    persist: int = 2  # windows in a row before a hint shows (and stays while it holds)


class AgentHints:
    """Hints for the agent's own delivery: speaking fast, too loud, flat tone."""

    def __init__(self, cfg: HintConfig) -> None:
        self.cfg = cfg
        self._rates: list[float] = []
        self._louds: list[float] = []
        self._streak = {"speaking_fast": 0, "too_loud": 0, "flat_tone": 0}

    def update(self, speaking_rate: float, loudness_db: float, f0_std_st: float) -> list[str]:
        cfg = self.cfg
        if len(self._rates) < cfg.baseline_windows:
            self._rates.append(speaking_rate)
            self._louds.append(loudness_db)
        base_rate = float(np.median(self._rates))
        base_loud = float(np.median(self._louds))
        learnt = len(self._rates) >= min(3, cfg.baseline_windows)
        now = {
            "speaking_fast": learnt and speaking_rate > max(cfg.fast_abs, cfg.fast_ratio * base_rate),
            "too_loud": learnt and loudness_db > base_loud + cfg.loud_db,
            "flat_tone": bool(np.isfinite(f0_std_st)) and f0_std_st < cfg.flat_st,
        }
        for k, on in now.items():
            self._streak[k] = self._streak[k] + 1 if on else 0
        return [k for k, n in self._streak.items() if n >= cfg.persist]
