"""Data types of the streaming logic (pure): the sample grid, config, utterances, output segments.

The leaf of the streaming modules: :mod:`pipeline.asr.partials` and
:mod:`pipeline.asr.stream` import it, it imports neither.  Everything here is re-exported
by :mod:`pipeline.asr.stream`, where the rest of the package imports it from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from models.whisper.decoding import Word
from pipeline.asr.endpointing import EndpointConfig

SR = 16000


class StreamFinished(ValueError):
    """Audio for a channel whose stream already ended (a late frame)."""


WINDOW = 512
MS = SR // 1000


class Vad(Protocol):
    @property
    def next_window(self) -> int: ...

    def process(self, audio: np.ndarray, audio_start: int) -> np.ndarray: ...

    def state(self) -> Any: ...

    def restore(self, state: Any) -> None: ...

    def reset(self, next_window: int) -> None: ...


@dataclass(frozen=True)
class StreamConfig:
    endpoint: EndpointConfig = field(default_factory=EndpointConfig)
    max_utterance_s: float = 20.0
    split_lookback_s: float = 6.0
    # Natural pauses: once an utterance is this long, a pause of pause_split_ms (windows below
    # the VAD threshold, shorter than the end-of-turn silence) ends it there.  0 = off.
    pause_split_after_s: float = 0.0
    pause_split_ms: int = 250
    min_speech_ms: int = 200
    partials: bool = True
    partial_min_s: float = 1.0  # no partial before this much of an utterance
    partial_interval_s: float = 1.0  # new audio needed between two partial decodes
    partial_max_buffer_s: float = 15.0
    # LocalAgreement: how many earlier hypotheses a new one is compared with (1 = plain LA-2;
    # 2 = also the one before, so one flipped word does not hold the rest back: docs/asr.md).
    partial_lookback: int = 2
    # Cut a sentence LocalAgreement confirmed off the open turn and finalise it at once.
    # Off by default: measured on the sample call it cut final latency (p50 6.7 -> 4.3 s)
    # but raised WER from 13.5% to 19.6% (mid-turn cuts cost Whisper its context).
    early_finals: bool = False
    early_final_min_s: float = 1.0
    max_gap_s: float = 600.0  # a longer jump forward in call time is treated as an error

    def __post_init__(self) -> None:
        if not 2.0 <= self.max_utterance_s <= 29.0:
            raise ValueError("max_utterance_s must be between 2 and 29 s (Whisper sees at most 30 s)")
        if not 0.5 <= self.split_lookback_s < self.max_utterance_s:
            raise ValueError("split_lookback_s must be at least 0.5 s and below max_utterance_s")
        if not 0.0 <= self.pause_split_after_s < self.max_utterance_s:
            raise ValueError("pause_split_after_s must be between 0 (off) and max_utterance_s")
        if not 1 <= self.partial_lookback <= 4:
            raise ValueError("partial_lookback must be between 1 and 4")
        if self.pause_split_ms < 64:
            raise ValueError("pause_split_ms must be at least 64 ms (two VAD windows)")


@dataclass
class Utterance:
    start: int  # samples
    end: int | None = None
    voiced: int = 0  # windows at or above the VAD threshold
    windows: int = 0
    forced: bool = False  # closed by max_utterance_s, not by silence
    ready_at: float = 0.0  # clock() when it was closed (decode queue order)
    run_onset: int = 0  # VAD window where this stretch of speech began (splits keep the first)

    @property
    def ms_id(self) -> int:
        return self.start // MS


class JobOwner(Protocol):
    """Where a job's result goes back to: the :class:`pipeline.asr.stream.ChannelStream`
    that handed it out (a protocol, so this module needs no import of the stream)."""

    call_id: str

    def on_result(
        self, job: Job, text: str, language: str, words: list[Any], failed: bool = False
    ) -> list[SegmentOut]: ...


@dataclass
class Job:
    """One decode a stream hands out; its result goes back to ``stream.on_result``."""

    stream: JobOwner
    kind: str  # "final" | "partial"
    start: int
    end: int
    audio: np.ndarray
    language: str | None
    speech_ratio: float
    ready_at: float  # monotonic time the job became possible (queue order)
    utterance: Utterance | None = None
    domain: str = ""  # the call's queue: which domain vocabulary biases the decode

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / SR


@dataclass
class SegmentOut:
    call_id: str
    channel: str
    segment_id: str
    is_final: bool
    start: float
    end: float
    text: str
    language: str
    words: list[Word]  # call time
    revision: int
    stable_len: int = 0  # partials: length of the leading text LocalAgreement has confirmed


@dataclass
class ResumePoint:
    """Where to resume this channel after a restart: an idle point of the endpointer."""

    window: int  # first VAD window to process
    vad_state: Any
    floor: int  # earliest sample an utterance may start at (end of the previous one)
