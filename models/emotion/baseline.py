"""Per-speaker feature baseline: the normalisation shared by training and the live worker.

Prosody is mostly *relative*: a loud, high-pitched window means anger for one caller and
nothing for another (and the line gain is arbitrary).  Each speaker's windows are therefore
z-scored against that speaker's own running mean/std, shrunk towards the population
statistics (stored with the model) while few windows have been seen:

    mean = (n0 * mean_pop + n * mean_spk) / (n0 + n)
    var  = (n0 * var_pop  + n * var_spk)  / (n0 + n)

A call learns its baseline from its first ``max_windows`` voiced windows and then freezes
it, so a long angry stretch later in the call does not become the new "normal".  Training
simulates exactly this with a random sample of each speaker's windows (models.emotion.training.train).
"""

from __future__ import annotations

import numpy as np


class SpeakerBaseline:
    def __init__(self, pop_mean: np.ndarray, pop_std: np.ndarray, prior_weight: float, max_windows: int) -> None:
        if pop_mean.shape != pop_std.shape:
            raise ValueError("pop_mean and pop_std must have the same shape")
        self.pop_mean = np.asarray(pop_mean, dtype=np.float64)
        self.pop_var = np.maximum(np.asarray(pop_std, dtype=np.float64), 1e-6) ** 2
        self.prior_weight = float(prior_weight)
        self.max_windows = int(max_windows)
        self.n = 0
        self._sum = np.zeros_like(self.pop_mean)
        self._sumsq = np.zeros_like(self.pop_mean)

    @property
    def frozen(self) -> bool:
        return self.n >= self.max_windows

    def update(self, x: np.ndarray) -> None:
        """Add one voiced window's raw features (ignored once the baseline is frozen)."""
        if self.frozen:
            return
        x = np.asarray(x, dtype=np.float64)
        self.n += 1
        self._sum += x
        self._sumsq += x * x

    def stats(self) -> tuple[np.ndarray, np.ndarray]:
        n, n0 = self.n, self.prior_weight
        if n == 0:
            return self.pop_mean, np.sqrt(self.pop_var)
        m = self._sum / n
        v = np.maximum(self._sumsq / n - m * m, 0.0)
        mean = (n0 * self.pop_mean + n * m) / (n0 + n)
        var = (n0 * self.pop_var + n * v) / (n0 + n)
        return mean, np.sqrt(np.maximum(var, 1e-12))

    def normalize(self, x: np.ndarray) -> np.ndarray:
        mean, std = self.stats()
        return ((np.asarray(x, dtype=np.float64) - mean) / std).astype(np.float32)

    def normalize_population(self, x: np.ndarray) -> np.ndarray:
        """z-score against the population statistics alone (no caller baseline yet)."""
        mean, std = self.pop_mean, np.sqrt(self.pop_var)
        return ((np.asarray(x, dtype=np.float64) - mean) / std).astype(np.float32)

    def state(self) -> dict[str, object]:
        return {"n": self.n, "sum": self._sum.tolist(), "sumsq": self._sumsq.tolist()}


def normalize_batch(
    x: np.ndarray, pool: np.ndarray, pop_mean: np.ndarray, pop_std: np.ndarray, prior_weight: float
) -> np.ndarray:
    """Normalise rows of ``x`` with a baseline built from the rows of ``pool`` (training/eval)."""
    b = SpeakerBaseline(pop_mean, pop_std, prior_weight, max_windows=max(len(pool), 1))
    for row in pool:
        b.update(row)
    mean, std = b.stats()
    return ((x - mean) / std).astype(np.float32)
