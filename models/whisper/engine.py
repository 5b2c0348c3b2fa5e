"""Whisper inference for utterances, batched, with no I/O and no event loop.

This drives faster-whisper's CTranslate2 model directly instead of ``WhisperModel.transcribe``
because the streaming worker needs things ``transcribe`` does not offer:

- one model call for many utterances (from many calls) - ``decode()`` takes a batch;
- an encoder window fitted to the utterance (``encoder_window="fit"``): Whisper's encoder
  is trained on 30 s windows, but CTranslate2 accepts shorter inputs, and a 5 s utterance
  then costs ~1/5 of the encoder time.  Measured on the real clips and the sample call
  (docs/asr.md): WER 12.5% vs 12.2% on the sample call at ~1/3 of the CPU time.  The
  window keeps 2 s of padding after the speech (at least 5 s in all): with only 0.5 s the
  decoder did not see the speech end and looped on short utterances (WER 17% -> 21%).
  ``"full"`` keeps the standard 30 s window;
- exactly one greedy pass (beam 1, temperature 0, no fallback, no previous-text
  conditioning): temperature fallback caused a 58 s stall on CPU (design.md), and
  conditioning on previous text is what turns one hallucination into a loop;
- the language forced when known, and detection restricted to the configured languages.

Text clean-up and the hallucination/repetition filters are in :mod:`models.whisper.text`
and :mod:`models.whisper.filters`; they are applied here so every caller gets the same
output.  ``load()`` is explicit: importing this module loads nothing.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.whisper import filters, text
from models.whisper import tokens as tokbytes
from models.whisper.decoding import (  # noqa: F401 - DecodeRequest/TextBias re-exported for callers
    DecodeRequest,
    DecodeResult,
    TextBias,
    UtteranceDecoder,
    Word,
)
from models.whisper.resolve import ResolvedModel, resolve_model

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
HOP = 160  # feature frames are 10 ms
MAX_FRAMES = 3000  # Whisper's 30 s window
MIN_FIT_FRAMES = 200  # below ~2 s of encoder context the decoder gets unreliable
TOKENS_PER_SECOND_CAP = 15  # generation length cap: far above real speech, stops loops early


@dataclass(frozen=True)
class EngineConfig:
    model: str = "base"
    cache_dir: Path = Path("var/models")
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    compute_type: str = "auto"  # "auto" -> int8 on CPU, float16 on CUDA
    cpu_threads: int = 0  # 0: all cores of this machine
    device_index: int = 0
    languages: tuple[str, ...] = ("zh", "en")
    encoder_window: str = "fit"  # "fit" | "full"
    fit_margin_s: float = 2.0  # "fit": padding after the audio (the decoder must see speech end)
    fit_min_s: float = 5.0  # "fit": shortest encoder window
    beam_size: int = 1
    verify_hash: bool = True
    filters: filters.FilterConfig = field(default_factory=filters.FilterConfig)


MAX_PROMPT_TOKENS = 223  # Whisper's limit for previous-text context (n_text_ctx // 2 - 1)


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def resolve_compute_type(compute_type: str, device: str) -> str:
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


def english_only(model_name: str, is_multilingual: bool) -> bool:
    """English-only Whisper ("tiny.en", "base.en", a "...-base.en-ct2" dir): by the model's
    vocabulary (CTranslate2 reports it) or, for a converted dir, by its ".en" name."""
    name = model_name.lower().rstrip("/")
    return not is_multilingual or name.endswith(".en") or ".en-" in name


class WhisperEngine(UtteranceDecoder):
    """A loaded Whisper model that decodes batches of utterances.  Thread-safe."""

    def __init__(self, config: EngineConfig) -> None:
        for lang in config.languages:
            if not lang or len(lang) > 3:
                raise ValueError(f"bad language code {lang!r} in ASR languages")
        if config.encoder_window not in ("fit", "full"):
            raise ValueError(f"encoder_window must be 'fit' or 'full', not {config.encoder_window!r}")
        self.config = config
        self.device = resolve_device(config.device)
        self.compute_type = resolve_compute_type(config.compute_type, self.device)
        self.resolved: ResolvedModel | None = None
        self._model = None  # faster_whisper.WhisperModel
        self._lock = threading.Lock()  # CTranslate2 calls from several executor threads queue here
        self._tokenizers: dict[str | None, object] = {}
        self.multilingual = True  # set by load(): False for English-only (".en") models
        self.bias: TextBias | None = None  # set_bias(): domain prompt + post-correction
        self._prompt_cache: dict[str, list[int]] = {}

    # -- lifecycle ---------------------------------------------------------------------
    def load(self) -> WhisperEngine:
        """Resolve (assemble on first use) and load the model.  Idempotent."""
        if self._model is not None:
            return self
        from faster_whisper import WhisperModel

        self.resolved = resolve_model(
            self.config.model, self.config.cache_dir, verify_hash=self.config.verify_hash
        )
        threads = self.config.cpu_threads or (os.cpu_count() or 1)
        model = WhisperModel(
            str(self.resolved.path),
            device=self.device,
            device_index=self.config.device_index,
            compute_type=self.compute_type,
            cpu_threads=threads,
            num_workers=1,
        )
        self.multilingual = not english_only(self.resolved.name, model.model.is_multilingual)
        if not self.multilingual and any(lang != "en" for lang in self.config.languages):
            raise ValueError(
                f"model {self.resolved.name} is English-only but languages={self.config.languages}"
            )
        self._model = model
        log.info(
            "Whisper %s loaded on %s/%s (%d threads, encoder window %s)",
            self.resolved.name,
            self.device,
            self.compute_type,
            threads,
            self.config.encoder_window,
        )
        return self

    def set_bias(self, bias: TextBias | None) -> None:
        """Install (or remove) domain biasing; takes effect from the next decode."""
        self.bias = bias

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _tokenizer(self, language: str | None):
        from faster_whisper.tokenizer import Tokenizer

        tok = self._tokenizers.get(language)
        if tok is None:
            assert self._model is not None
            # An English-only model has no language/task tokens: its prompt is <|sot|> alone
            # (a multilingual prompt there loses capitalisation and punctuation).
            if self.multilingual:
                tok = Tokenizer(self._model.hf_tokenizer, True, task="transcribe", language=language)
            else:
                tok = Tokenizer(self._model.hf_tokenizer, False)
            self._tokenizers[language] = tok
        return tok

    # -- inference ---------------------------------------------------------------------
    def decode(self, requests: Sequence[DecodeRequest]) -> list[DecodeResult]:
        """Decode utterances; one encoder call per language group.  Blocking: use an executor."""
        if self._model is None:
            raise RuntimeError("WhisperEngine.decode() before load()")
        results: list[DecodeResult | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, req in enumerate(requests):
            if req.audio.ndim != 1:
                raise ValueError("audio must be mono (1-D)")
            if req.language is not None and req.language not in self.config.languages:
                raise ValueError(f"language {req.language!r} is not one of {self.config.languages}")
            # Unknown-language requests go one by one: the alignment step needs one
            # start sequence (with the language token) per model call.
            # one prompt per model call: a group shares language and domain vocabulary; and its
            # encoder window, because a batch is padded to its widest member and Whisper then
            # writes other text (bench.asr_batching: 21 of 40 finals of the sample call changed
            # in batches of 8 by arrival, 1 of 40 with one window per batch, which also cost no
            # more CPU than one at a time; docs/asr.md)
            width = self.encoder_window_of(req)
            key = f"{req.language}\0{req.domain}\0{width}" if req.language is not None else f"?{i}"
            groups.setdefault(key, []).append(i)
        with self._lock:
            for idx in groups.values():
                for i, res in zip(idx, self._decode_group([requests[i] for i in idx]), strict=True):
                    results[i] = res
        return [r for r in results if r is not None]

    def _features(self, audio: np.ndarray) -> tuple[np.ndarray, int]:
        assert self._model is not None
        audio = audio[: MAX_FRAMES * HOP].astype(np.float32, copy=False)
        feats = self._model.feature_extractor(audio)
        n = max(1, min(len(audio) // HOP, MAX_FRAMES))
        return feats[:, :n], n

    def encoder_window_of(self, req: DecodeRequest) -> int:
        """The encoder width (feature frames) ``req`` is decoded with when alone in its batch."""
        return self._window(max(1, min(len(req.audio) // HOP, MAX_FRAMES)))

    def _window(self, n_frames: int) -> int:
        if self.config.encoder_window == "full":
            return MAX_FRAMES
        # Round up to whole seconds (fewer distinct shapes) with some trailing padding.
        margin = int(self.config.fit_margin_s * 100)
        shortest = max(MIN_FIT_FRAMES, int(self.config.fit_min_s * 100))
        return min(MAX_FRAMES, max(shortest, int(math.ceil((n_frames + margin) / 100.0)) * 100))

    def _decode_group(self, reqs: list[DecodeRequest]) -> list[DecodeResult]:
        import ctranslate2
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        model = self._model
        assert model is not None
        feats = [self._features(r.audio) for r in reqs]
        width = max(self._window(n) for _f, n in feats)
        batch = np.zeros((len(reqs), feats[0][0].shape[0], width), dtype=np.float32)
        for i, (f, n) in enumerate(feats):
            batch[i, :, :n] = f[:, :width]
        encoder_output = model.model.encode(ctranslate2.StorageView.from_array(batch), to_cpu=False)

        language = reqs[0].language
        language_probability = 1.0
        if language is None and not self.multilingual:
            language = "en"
        if language is None:  # single request (see decode())
            language, language_probability = self._detect(encoder_output)
        tok = self._tokenizer(language)
        prompt = self._prompt(tok, self._context_tokens(tok, language, reqs[0].domain))
        longest = max(len(r.audio) for r in reqs) / SAMPLE_RATE
        max_new = int(10 + TOKENS_PER_SECOND_CAP * longest)
        max_length = min(model.max_length, len(prompt) + max_new)
        gen = model.model.generate(
            encoder_output,
            [prompt] * len(reqs),
            beam_size=self.config.beam_size,
            max_length=max_length,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=get_suppressed_tokens(tok, [-1]),
        )
        token_lists = [[t for t in g.sequences_ids[0] if t < tok.eot] for g in gen]
        want_words = [r.word_timestamps and bool(t) for r, t in zip(reqs, token_lists, strict=True)]
        aligned: list[list[Word]] = [[] for _ in reqs]
        if any(want_words):
            aligned = self._align(tok, encoder_output, token_lists, [n for _f, n in feats])

        out = []
        for req, g, tokens, words in zip(reqs, gen, token_lists, aligned, strict=True):
            raw = self._clean_decode(tok, tokens)
            seq_len = len(g.sequences_ids[0])
            avg_logprob = g.scores[0] * (seq_len**1.0) / (seq_len + 1)
            duration = len(req.audio) / SAMPLE_RATE
            res = DecodeResult(
                text=raw,
                words=words if req.word_timestamps else [],
                language=language,
                language_probability=language_probability,
                avg_logprob=float(avg_logprob),
                no_speech_prob=float(g.no_speech_prob),
                compression_ratio=get_compression_ratio(raw.strip()) if raw.strip() else 0.0,
                duration=duration,
                raw_text=raw,
            )
            out.append(self._postprocess(res, req.speech_ratio, req.domain))
        return out

    @staticmethod
    def _prompt(tok, context: Sequence[int] = ()) -> list[int]:
        """Decoder start: [<|startofprev|> context] <|sot|> [<|lang|> <|transcribe|>] <|notimestamps|>.

        The context is the domain prompt (what faster-whisper calls ``initial_prompt`` or
        ``hotwords``: both are text after <|startofprev|>); never the call's previous text."""
        head = [tok.sot_prev, *context] if context else []
        return [*head, *tok.sot_sequence, tok.no_timestamps]

    def _context_tokens(self, tok, language: str, domain: str = "") -> list[int]:
        text_ = self.bias.prompt(language, domain).strip() if self.bias is not None else ""
        if not text_:
            return []
        ids = self._prompt_cache.get(text_)
        if ids is None:
            ids = tok.encode(" " + text_)[-MAX_PROMPT_TOKENS:]
            if len(self._prompt_cache) > 16:
                self._prompt_cache.clear()
            self._prompt_cache[text_] = ids
        return ids

    @staticmethod
    def _token_bytes(tok, ids: Sequence[int]) -> list[bytes]:
        return tokbytes.token_bytes([tok.tokenizer.id_to_token(t) or "" for t in ids])

    def _clean_decode(self, tok, ids: Sequence[int]) -> str:
        # Not tok.decode(): it prints U+FFFD for bytes that form no character.
        return tokbytes.clean_decode(b"".join(self._token_bytes(tok, ids)))

    def _detect(self, encoder_output) -> tuple[str, float]:
        assert self._model is not None
        probs = self._model.model.detect_language(encoder_output)[0]
        allowed = {tok[2:-2]: p for tok, p in probs if tok[2:-2] in self.config.languages}
        if not allowed:
            return self.config.languages[0], 0.0
        total = sum(allowed.values()) or 1.0
        lang = max(allowed, key=lambda k: allowed[k])
        return lang, allowed[lang] / total

    def _align(
        self, tok, encoder_output, token_lists: list[list[int]], n_frames: list[int]
    ) -> list[list[Word]]:
        from faster_whisper.transcribe import merge_punctuations

        assert self._model is not None
        # Empty token lists break CTranslate2's align; give them one token and discard.
        safe = [t if t else [tok.eot] for t in token_lists]
        alignments = self._model.find_alignment(tok, safe, encoder_output, n_frames)
        out: list[list[Word]] = []
        for tokens, alignment, n in zip(token_lists, alignments, n_frames, strict=True):
            if not tokens:
                out.append([])
                continue
            merge_punctuations(alignment, "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、")
            limit = n * HOP / SAMPLE_RATE
            timed = [w for w in alignment if w["tokens"]]
            # Words end where the aligner split the tokens, which can be inside a character
            # (or on bytes that form none): merge them up to the next character boundary.
            groups = [[t for t in w["tokens"] if t < tok.eot] for w in timed]
            runs = tokbytes.group_at_boundaries(
                self._token_bytes(tok, [t for g in groups for t in g]), [len(g) for g in groups]
            )
            words = []
            for first, last, word_text in runs:
                span = timed[first : last + 1]
                start = float(min(max(span[0]["start"], 0.0), limit))
                end = float(min(max(span[-1]["end"], start), limit))
                words.append(
                    Word(
                        start=round(start, 3),
                        end=round(end, 3),
                        text=word_text,
                        probability=float(np.mean([w["probability"] for w in span])),
                    )
                )
            out.append(words)
        return out

    def _postprocess(self, res: DecodeResult, speech_ratio: float, domain: str = "") -> DecodeResult:
        cleaned = text.normalize_words([w.text for w in res.words], res.language)
        words: list[Word] = []
        for w, t in zip(res.words, cleaned, strict=True):
            if t:
                words.append(Word(w.start, w.end, t, w.probability))
            elif words:  # used up by a number written in digits (两千|四百 -> 2400): one word
                words[-1].end = max(words[-1].end, w.end)
        res.words = words
        res.text = text.normalize_text(res.text, res.language)
        res.words, res.text = filters.collapse_repetitions(
            res.words, res.text, res.language, self.config.filters
        )
        res.dropped = filters.hallucination_reason(res, self.config.filters, speech_ratio)
        if res.dropped:
            res.text, res.words = "", []
        elif self.bias is not None:
            # one-for-one replacements: word timings stay where they were
            fixed = self.bias.correct_words([w.text for w in res.words], res.language, domain)
            res.words = [Word(w.start, w.end, t, w.probability) for w, t in zip(res.words, fixed, strict=True)]
            res.text = self.bias.correct_text(res.text, res.language, domain)
        return res
