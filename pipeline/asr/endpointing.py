"""Utterance endpointing from VAD probabilities (pure logic, no model, no I/O).

A two-state machine over 32 ms VAD windows, with Silero's hysteresis: speech starts at the
first window with probability >= ``threshold``; it ends after ``min_silence_ms`` of windows
that fell below ``neg_threshold`` with no window back above ``threshold``.  Padding
(``speech_pad_ms``) is added around each utterance by the stream, not here.

The machine is deliberately memoryless while idle (no onset counter): a worker that
resumes from a checkpoint taken while idle rebuilds exactly the same utterances.  Short
blips are removed later by the stream's ``min_speech_ms`` check instead.
"""

from __future__ import annotations

from dataclasses import dataclass

WINDOW_MS = 32.0


@dataclass(frozen=True)
class EndpointConfig:
    # Tuned on the real 8 kHz sample call (docs/asr.md, "VAD tuning"): with Silero's default
    # 0.5 the caller channel lost whole words (word coverage 0.90, WER 25%); 0.15 with 400 ms
    # padding covered 97-100% of the words and gave WER 12.5%.
    threshold: float = 0.15
    neg_threshold: float | None = None  # default: max(threshold - 0.15, threshold / 3)
    min_silence_ms: int = 600
    speech_pad_ms: int = 400

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError("VAD threshold must be in (0, 1)")
        if self.neg_threshold is not None and not 0.0 < self.neg_threshold <= self.threshold:
            raise ValueError("VAD neg_threshold must be in (0, threshold]")
        if self.min_silence_ms < 2 * WINDOW_MS:
            raise ValueError("min_silence_ms must be at least 64 ms")
        if self.speech_pad_ms < 0 or self.speech_pad_ms > self.min_silence_ms:
            raise ValueError("speech_pad_ms must be between 0 and min_silence_ms")

    @property
    def off_threshold(self) -> float:
        # Silero's rule is threshold - 0.15; at our low threshold that would be ~0, and line
        # noise at p 0.02-0.1 would then never end an utterance.
        return (
            self.neg_threshold
            if self.neg_threshold is not None
            else max(self.threshold - 0.15, self.threshold / 3)
        )

    @property
    def min_silence_windows(self) -> int:
        return max(2, round(self.min_silence_ms / WINDOW_MS))


@dataclass(frozen=True)
class Onset:
    window: int  # first speech window


@dataclass(frozen=True)
class Offset:
    silence_window: int  # first window of the silence that ended the utterance


class Endpointer:
    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.in_speech = False
        self._silence_start: int | None = None

    def reset(self) -> None:
        self.in_speech = False
        self._silence_start = None

    def push(self, window: int, prob: float) -> Onset | Offset | None:
        cfg = self.config
        if not self.in_speech:
            if prob >= cfg.threshold:
                self.in_speech = True
                self._silence_start = None
                return Onset(window)
            return None
        if prob >= cfg.threshold:
            self._silence_start = None
        elif prob < cfg.off_threshold and self._silence_start is None:
            self._silence_start = window
        if self._silence_start is not None and window + 1 - self._silence_start >= cfg.min_silence_windows:
            start, self._silence_start = self._silence_start, None
            self.in_speech = False
            return Offset(start)
        return None
