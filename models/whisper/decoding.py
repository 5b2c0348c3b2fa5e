"""What an utterance decoder takes and returns, and the interface every decoder implements.

:class:`UtteranceDecoder` is the contract between the streaming code
(:class:`pipeline.asr.transcriber.Transcriber`) and a model: a batch of
:class:`DecodeRequest` in, one :class:`DecodeResult` per request out, blocking (callers run
it in a thread).  :class:`models.whisper.engine.WhisperEngine` implements it with
CTranslate2; tests subclass it with a scripted fake, so the streaming code is tested
against the same interface without a model.  No I/O and no model imports here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass
class DecodeRequest:
    audio: np.ndarray  # float32 mono 16 kHz, at most 30 s
    language: str | None = None  # None: detect among the decoder's languages
    word_timestamps: bool = True
    speech_ratio: float = 1.0  # fraction of the audio the VAD called speech (hallucination filter)
    domain: str = ""  # the call's queue: which domain vocabulary biases it ("" = the default one)


@dataclass
class Word:
    """A decoded word, in seconds from the start of the request's audio as the decoder returns
    it; the streaming code (pipeline.asr) places copies on the call's time line."""

    start: float
    end: float
    text: str
    probability: float


@dataclass
class DecodeResult:
    text: str
    words: list[Word]
    language: str
    language_probability: float
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    duration: float
    dropped: str = ""  # non-empty: why the text was discarded (hallucination filter)
    raw_text: str = ""  # what the model said before normalisation and filtering


class TextBias(Protocol):
    """Domain biasing (pipeline.asr.bias): a decoder prompt and a post-correction."""

    def prompt(self, language: str, domain: str = "") -> str: ...

    def correct_text(self, text: str, language: str, domain: str = "") -> str: ...

    def correct_words(self, words: list[str], language: str, domain: str = "") -> list[str]: ...


class UtteranceDecoder(ABC):
    """Decodes whole utterances, many per call.  Implementations must be thread-safe."""

    device: str = "cpu"  # where it runs ("cpu" | "cuda"): batch sizes are chosen by it

    @abstractmethod
    def decode(self, requests: Sequence[DecodeRequest]) -> list[DecodeResult]:
        """One result per request, in order.  Blocking: call it from a thread."""
