"""Pure per-channel logic of the emotion worker: windowing, smoothing, hysteresis, agent hints.

No Kafka, no model, no I/O: everything here is deterministic given its inputs, so it is
unit-tested directly, and the live worker and the offline ``score`` command share it.
The per-caller *feature* baseline lives in :mod:`models.emotion.baseline` because training
uses the very same code.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    alpha: float = 0.6  # EMA weight of the newest window (hop 1 s: a ~1.5 s time constant)
    enter: float = 0.6  # smoothed p(agitated) that, held min_windows in a row, enters "agitated"
    exit: float = 0.4  # ... and below which, held exit_windows in a row, it leaves again
    min_windows: int = 2
    exit_windows: int = 5  # leaving is slower than entering: one calm breath is not calm


STATES = ("neutral", "agitated")


@dataclass(frozen=True, slots=True)
class StateUpdate:
    arousal: float  # smoothed voice arousal (0 calm .. 1 activated)
    agitated: float  # smoothed p(agitated)
    state: str  # "neutral" | "agitated"
    changed: bool


class StateTracker:
    """EMA-smoothed voice signals and a hysteresis state machine, so the panel does not flicker.

    Only agitation changes the state the panel shows: happy/sad from voice alone did not hold
    up across corpora (model card), arousal is shown as a level, not a label.  "agitated" is
    entered when smoothed p(agitated) stays at or above ``enter`` for ``min_windows`` windows,
    and left when it stays below ``exit`` for ``exit_windows``.  Silent windows are never
    passed in: silence neither claims an emotion nor moves the state.
    """

    def __init__(self, cfg: StateConfig) -> None:
        if not 0.0 < cfg.alpha <= 1.0 or cfg.exit > cfg.enter:
            raise ValueError("need 0 < alpha <= 1 and exit <= enter")
        self.cfg = cfg
        self.arousal: float | None = None
        self.agitated: float | None = None
        self.state = "neutral"
        self._streak = 0  # consecutive windows arguing for the other state

    def update(self, arousal: float, agitated: float) -> StateUpdate:
        for v in (arousal, agitated):
            if not np.isfinite(v) or not 0.0 <= v <= 1.0:
                raise ValueError(f"signal probabilities must be in [0, 1], got {v!r}")
        a = self.cfg.alpha
        self.arousal = arousal if self.arousal is None else a * arousal + (1 - a) * self.arousal
        self.agitated = agitated if self.agitated is None else a * agitated + (1 - a) * self.agitated
        if self.state == "neutral":
            against, need = self.agitated >= self.cfg.enter, self.cfg.min_windows
        else:
            against, need = self.agitated < self.cfg.exit, self.cfg.exit_windows
        self._streak = self._streak + 1 if against else 0
        changed = self._streak >= need
        if changed:
            self.state = "agitated" if self.state == "neutral" else "neutral"
            self._streak = 0
        return StateUpdate(float(self.arousal), float(self.agitated), self.state, changed)


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
