"""Test doubles for the ASR logic (no model): a stateful energy VAD, a scripted decoder, synthetic audio."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from models.whisper.decoding import DecodeRequest, DecodeResult, UtteranceDecoder
from models.whisper.decoding import Word as DecodeWord

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


def W(start: float, end: float, text: str, probability: float = 0.9) -> DecodeWord:
    """A decoded word (job-relative times), as the engine returns it."""
    return DecodeWord(start, end, text, probability)


def finalize_all(stream, text: str = "hello there") -> list:
    """Decode every closed utterance with a fixed text (what a model would return)."""
    out = []
    while (job := stream.next_job("final")) is not None:
        words = [W(0.0, job.seconds, " " + text)]
        out.extend(stream.on_result(job, text, "en", words))
    return out


class FakeDecoder(UtteranceDecoder):
    """A scripted model behind the real decoder interface (no weights, instant).

    Every request is answered with ``text`` (or ``script(request)``), one word per space-
    separated token spread evenly over the request's audio, in the language asked for (or
    ``detected`` when the request leaves it open).  It records what it was asked and on
    which thread, so tests can check batching and that decoding stays off the event loop.
    """

    def __init__(self, text: str = "hello there", detected: str = "en", script=None, fail: int = 0) -> None:
        self.text = text
        self.detected = detected
        self.script = script
        self.fail = fail  # raise on this many calls first (a model error)
        self.requests: list[DecodeRequest] = []
        self.batches: list[int] = []
        self.threads: set[str] = set()

    def decode(self, requests: Sequence[DecodeRequest]) -> list[DecodeResult]:
        self.threads.add(threading.current_thread().name)
        if self.fail:
            self.fail -= 1
            raise RuntimeError("fake model failure")
        self.batches.append(len(requests))
        self.requests.extend(requests)
        return [self._result(r) for r in requests]

    def _result(self, req: DecodeRequest) -> DecodeResult:
        text = self.script(req) if self.script is not None else self.text
        duration = len(req.audio) / SR
        tokens = text.split()
        step = duration / max(len(tokens), 1)
        words = [
            DecodeWord(round(i * step, 3), round((i + 1) * step, 3), " " + t, 0.9)
            for i, t in enumerate(tokens)
        ]
        return DecodeResult(
            text=text,
            words=words if req.word_timestamps else [],
            language=req.language or self.detected,
            language_probability=1.0 if req.language else 0.95,
            avg_logprob=-0.1,
            no_speech_prob=0.0,
            compression_ratio=1.0,
            duration=duration,
        )
