"""Conversation hints for the agent from both channels of a call: talking over the customer,
long silences (dead air).  Pure logic on the call clock, no model: unit-tested directly.

Each channel's windows are reduced to a speech-activity mask on a 100 ms grid (frame level
above an absolute floor and within ``rel_db`` of the window's loud frames, so a faint echo
of the other side is not speech).  The agent is *talking over* the customer when, inside the
span both channels' latest windows cover, both are active for at least ``overlap_s``; a
*long silence* is ``silence_s`` or more with neither side active, shown once on the agent's
next reading.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TurnConfig:
    frame_s: float = 0.1
    floor_db: float = -50.0  # dBFS: quieter frames are never speech
    rel_db: float = 30.0  # frames this far below the window's loud frames are background/echo
    overlap_s: float = 1.0  # both talking this long inside one window = talking over
    persist: int = 2  # windows in a row before "talking_over" shows
    silence_s: float = 8.0  # dead air this long = "long_silence"


def activity(samples: np.ndarray, sample_rate: int, cfg: TurnConfig) -> np.ndarray:
    """Boolean speech mask, one entry per ``frame_s`` of ``samples``."""
    n = int(round(cfg.frame_s * sample_rate))
    k = samples.size // n
    if k == 0:
        return np.zeros(0, dtype=bool)
    frames = np.asarray(samples[: k * n], dtype=np.float64).reshape(k, n)
    db = 10.0 * np.log10(np.maximum((frames * frames).mean(axis=1), 1e-12))
    return db > max(cfg.floor_db, float(np.percentile(db, 95)) - cfg.rel_db)


class CallTurns:
    """Per call: the latest activity of each channel and the time of the last speech."""

    def __init__(self, cfg: TurnConfig) -> None:
        self.cfg = cfg
        self._latest: dict[str, tuple[float, np.ndarray]] = {}  # channel -> (start, mask)
        self._last_speech: float | None = None
        self._silence_pending = False
        self._over_streak = 0

    def note(self, channel: str, start: float, samples: np.ndarray, sample_rate: int) -> None:
        """Record one window of a channel (voiced or not) that starts at call time ``start``."""
        mask = activity(samples, sample_rate, self.cfg)
        self._latest[channel] = (start, mask)
        active = np.flatnonzero(mask)
        if active.size == 0:
            return
        first = start + active[0] * self.cfg.frame_s
        last = start + (active[-1] + 1) * self.cfg.frame_s
        if self._last_speech is not None and first - self._last_speech >= self.cfg.silence_s:
            self._silence_pending = True
        self._last_speech = max(self._last_speech or last, last)

    def agent_hints(self) -> list[str]:
        """Conversation hints for the agent's current reading (call after noting its window)."""
        out = []
        if self._silence_pending:
            out.append("long_silence")
            self._silence_pending = False
        over = self._overlap_s()
        self._over_streak = self._over_streak + 1 if over >= self.cfg.overlap_s else 0
        if self._over_streak >= self.cfg.persist:
            out.append("talking_over")
        return out

    def _overlap_s(self) -> float:
        if "agent" not in self._latest or "customer" not in self._latest:
            return 0.0
        (sa, ma), (sc, mc) = self._latest["agent"], self._latest["customer"]
        step = self.cfg.frame_s
        shift = int(round((sc - sa) / step))  # customer frame i is agent frame i + shift
        lo, hi = max(0, shift), min(ma.size, mc.size + shift)
        if hi <= lo:
            return 0.0
        return float(np.sum(ma[lo:hi] & mc[lo - shift : hi - shift])) * step
