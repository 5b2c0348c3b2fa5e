"""Per-call state: audio input bookkeeping per channel and the call's language (pure logic).

:class:`ChannelInput` turns frames (call-time start + samples at the wire rate) into a
contiguous 16 kHz stream with absolute sample positions: lost audio becomes silence of the
right length, re-delivered audio is dropped, and the resampler keeps its filter state
across frames (no clicks).  :class:`AsrCallState` holds the language: from the call's open
message when given, else detected once early in the call and then forced (detection on
short or noisy openings is unreliable, so it waits for enough speech).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pipeline.asr.stream import SR, ChannelStream
from streams.platform.audio_codec import StreamResampler


class AudioInputError(ValueError):
    """A frame that cannot be placed in its channel's stream (rate change, huge jump)."""


class ChannelInput:
    def __init__(self, rate: int, max_gap_s: float = 600.0) -> None:
        if not 8000 <= rate <= 48000:
            raise AudioInputError(f"unsupported sample rate {rate}")
        self.rate = rate
        self.max_gap_s = max_gap_s
        self._rs = StreamResampler(rate, SR)
        self.next_in: float | None = None  # call time of the next expected input sample
        self.out_pos: int | None = None  # absolute 16 kHz position of the next output sample
        self.gaps = 0
        self.overlaps = 0

    def start_at(self, call_time: float, out_pos: int) -> None:
        self.next_in = call_time
        self.out_pos = out_pos

    def feed(self, samples: np.ndarray, start: float, rate: int) -> tuple[np.ndarray, int]:
        """Returns (16 kHz samples, absolute position of the first one)."""
        if rate != self.rate:
            raise AudioInputError(f"sample rate changed from {self.rate} to {rate} within a channel")
        if self.next_in is None or self.out_pos is None:
            self.start_at(start, int(round(start * SR)))
        assert self.next_in is not None and self.out_pos is not None
        delta = start - self.next_in
        tolerance = 1.5 / rate
        if delta > self.max_gap_s:
            raise AudioInputError(f"audio jumps {delta:.0f} s ahead")
        if delta > tolerance:  # frames lost: fill with silence of the right length
            samples = np.concatenate([np.zeros(int(round(delta * rate)), np.float32), samples])
            self.gaps += 1
        elif delta < -tolerance:  # overlap with audio already seen: keep only what is new
            drop = int(round(-delta * rate))
            samples = samples[drop:]
            self.overlaps += 1
            if samples.size == 0:
                return np.zeros(0, np.float32), self.out_pos
            start = self.next_in
        out = self._rs.push(samples.astype(np.float32, copy=False))
        pos = self.out_pos
        self.out_pos += out.size
        self.next_in = (start if delta <= tolerance else self.next_in) + samples.size / rate
        return out, pos

    def flush(self) -> tuple[np.ndarray, int]:
        """The resampler's last samples (end of the channel)."""
        pos = self.out_pos or 0
        out = self._rs.push(np.zeros(0, np.float32), last=True)
        self.out_pos = pos + out.size
        return out, pos


@dataclass
class LanguagePolicy:
    languages: tuple[str, ...] = ("zh", "en")
    detect_min_s: float = 2.0  # an utterance this long with a confident detection fixes the language
    detect_min_prob: float = 0.75
    detect_max_s: float = 10.0  # after this much detected speech, take the best guess anyway


@dataclass
class AsrCallState:
    call_id: str
    policy: LanguagePolicy
    language: str | None = None
    language_source: str = ""  # "open" | "detected" | ""
    queue: str = ""  # from the call's open event: picks the queue's domain vocabulary
    streams: dict[str, ChannelStream] = field(default_factory=dict)
    inputs: dict[str, ChannelInput] = field(default_factory=dict)
    ended: bool = False
    ended_duration: float = 0.0
    last_audio_at: float = 0.0
    resume: dict = field(default_factory=dict)  # channel -> StreamResume (after a worker restart)
    _votes: dict[str, float] = field(default_factory=dict)
    _voted_s: float = 0.0

    def set_language(self, language: str, source: str) -> None:
        if language not in self.policy.languages:
            raise ValueError(f"language {language!r} is not one of {self.policy.languages}")
        self.language = language
        self.language_source = source
        for s in self.streams.values():
            s.language = language

    def observe(self, language: str, probability: float, seconds: float) -> bool:
        """Feed one detection; returns True when it fixed the call's language."""
        if self.language is not None or language not in self.policy.languages:
            return False
        self._votes[language] = self._votes.get(language, 0.0) + probability * seconds
        self._voted_s += seconds
        if seconds >= self.policy.detect_min_s and probability >= self.policy.detect_min_prob:
            self.set_language(language, "detected")
            return True
        if self._voted_s >= self.policy.detect_max_s:
            self.set_language(max(self._votes, key=lambda k: self._votes[k]), "detected")
            return True
        return False
