"""Bounded histories of one channel on its absolute call-time line: 16 kHz samples and VAD probabilities.

Pure bookkeeping for :class:`pipeline.asr.stream.ChannelStream`, which decides what is
still needed and drops the rest after every push (memory stays flat however long the
call).  :class:`SampleBuffer` holds the audio an utterance or a future onset may still
need; :class:`WindowProbs` the VAD probabilities of the open utterance's tail, where
splits of over-long utterances and early-final cuts look for the least speech-like window.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class SampleBuffer:
    """Contiguous samples from absolute position ``start`` (inclusive) to ``end`` (exclusive)."""

    def __init__(self) -> None:
        self.samples = np.zeros(0, np.float32)
        self.start: int | None = None  # absolute sample of samples[0]; None until the first audio
        self.end: int | None = None  # the next sample to be written

    @property
    def size(self) -> int:
        return int(self.samples.size)

    @property
    def nbytes(self) -> int:
        return int(self.samples.nbytes)

    def begin_at(self, pos: int) -> None:
        """(Re)start the empty buffer at absolute sample ``pos``."""
        self.start = self.end = pos

    def place(self, samples: np.ndarray, start: int, max_gap: int, what: str) -> np.ndarray:
        """The part of ``samples`` (first one at ``start``) that continues the buffer at ``end``:
        lost audio before it reads as silence, re-delivered audio is cut off."""
        assert self.end is not None
        if start > self.end:
            gap = start - self.end
            if gap > max_gap:
                raise ValueError(f"{what}: audio jumps {gap / 16000:.0f} s ahead")
            return np.concatenate([np.zeros(gap, np.float32), samples])
        if start < self.end:
            return samples[self.end - start :]
        return samples

    def append(self, samples: np.ndarray) -> None:
        assert self.end is not None
        self.samples = np.concatenate([self.samples, samples])
        self.end += samples.size

    def since(self, pos: int) -> np.ndarray:
        """A view of the samples from absolute position ``pos`` on."""
        assert self.start is not None
        return self.samples[pos - self.start :]

    def copy(self, start: int, end: int) -> np.ndarray:
        assert self.start is not None
        return self.samples[max(start - self.start, 0) : max(end - self.start, 0)].copy()

    def drop_before(self, keep: int) -> None:
        assert self.start is not None
        if keep > self.start:
            self.samples = self.samples[keep - self.start :].copy()
            self.start = keep


class WindowProbs:
    def __init__(self) -> None:
        self._p: deque[float] = deque()
        self.start = 0  # absolute index of the first kept window

    def __len__(self) -> int:
        return len(self._p)

    def __bool__(self) -> bool:
        return bool(self._p)

    def __getitem__(self, window: int) -> float:
        return self._p[window - self.start]

    @property
    def last(self) -> int:
        """Index of the latest window (``start - 1`` when empty)."""
        return self.start + len(self._p) - 1

    def append(self, window: int, p: float) -> None:
        if not self._p and self.start != window:
            self.start = window
        self._p.append(p)

    def between(self, first: int, last: int) -> list[float]:
        """Probabilities of windows ``first`` to ``last`` inclusive (all must be kept)."""
        return [self[j] for j in range(first, last + 1)]

    def before(self, window: int) -> list[float]:
        """Probabilities of the kept windows before ``window``."""
        return list(self._p)[: max(window - self.start, 0)]

    def since(self, window: int) -> list[float]:
        """Probabilities of the kept windows from ``window`` on."""
        return list(self._p)[max(window - self.start, 0) :]

    def drop_before(self, window: int) -> None:
        while self._p and self.start < window:
            self._p.popleft()
            self.start += 1
