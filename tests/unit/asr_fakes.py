"""Test doubles for the pure ASR logic (no model): a stateful energy VAD and synthetic audio."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SR = 16000
WINDOW = 512


class EnergyVad:
    """Speech probability from window energy, smoothed with a state (like an LSTM's memory),
    so restoring the state matters exactly as it does for Silero."""

    def __init__(self, threshold: float = 0.05) -> None:
        self.threshold = threshold
        self.reset(0)

    def reset(self, next_window: int) -> None:
        self._w = next_window
        self._s = 0.0

    @property
    def next_window(self) -> int:
        return self._w

    def state(self):
        return (self._w, self._s)

    def restore(self, state) -> None:
        self._w, self._s = state

    def process(self, audio: np.ndarray, audio_start: int) -> np.ndarray:
        first = self._w * WINDOW - audio_start
        assert first >= 0
        n = (len(audio) - first) // WINDOW
        out = []
        for i in range(max(n, 0)):
            x = audio[first + i * WINDOW : first + (i + 1) * WINDOW]
            e = 1.0 if float(np.sqrt(np.mean(x**2))) > self.threshold else 0.0
            self._s = 0.6 * self._s + 0.4 * e
            out.append(self._s)
        self._w += max(n, 0)
        return np.array(out, np.float32)


def tone(seconds: float, amp: float = 0.3, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.float32)


def frames(audio: np.ndarray, frame_s: float = 0.2, start: int = 0):
    n = int(frame_s * SR)
    for i in range(0, len(audio), n):
        yield audio[i : i + n], start + i


@dataclass
class W:
    start: float
    end: float
    text: str
    probability: float = 0.9


def finalize_all(stream, text: str = "hello there") -> list:
    """Decode every closed utterance with a fixed text (what a model would return)."""
    out = []
    while (job := stream.next_job("final")) is not None:
        words = [W(0.0, job.seconds, " " + text)]
        out.extend(stream.on_result(job, text, "en", words))
    return out
