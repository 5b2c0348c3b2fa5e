"""Domain biasing for the Whisper engine: decoder prompt + pinyin post-correction.

Implements :class:`models.whisper.engine.TextBias` from a :class:`~pipeline.asr.vocab.Vocabulary`
(reloaded by :class:`~pipeline.asr.vocab.VocabularySource`).  Which of the two helps was
measured on real speech (docs/asr.md, "Domain vocabulary"); each can be switched off.

Reload: the engine asks for the prompt on its own inference thread (never the event loop),
and at most every ``reload_s`` seconds that call first checks the files' mtimes
(:meth:`VocabularySource.maybe_reload`), so the live worker picks up an edited vocabulary,
KB or rule file without a restart, like the streams worker does for the KB.
"""

from __future__ import annotations

import threading
import time

from models.whisper.text import is_chinese
from pipeline.asr.correction import Corrector
from pipeline.asr.vocab import Vocabulary, VocabularySource


class DomainBias:
    def __init__(
        self,
        source: VocabularySource | Vocabulary,
        prompt_terms: int = 40,
        prompt: bool = True,
        correct: bool = True,
        reload_s: float = 5.0,
        prompt_languages: tuple[str, ...] = ("zh", "en"),
    ) -> None:
        self.prompt_languages = prompt_languages
        self._source = source
        self.reload_s = reload_s
        self._next_check = time.monotonic() + reload_s
        self.prompt_terms = prompt_terms
        self.use_prompt = prompt
        self.use_correction = correct
        self._lock = threading.Lock()
        self._correctors: dict[str, Corrector] = {}  # queue ("" = the default vocabulary) -> corrector
        self._corrector_version = ""

    @property
    def vocabulary(self) -> Vocabulary:
        s = self._source
        return s.current if isinstance(s, VocabularySource) else s

    def maybe_reload(self) -> bool:
        s = self._source
        now = time.monotonic()
        if not isinstance(s, VocabularySource) or now < self._next_check:
            return False
        self._next_check = now + self.reload_s
        return s.maybe_reload()

    def prompt(self, language: str, domain: str = "") -> str:
        self.maybe_reload()
        if not self.use_prompt or language.split("-")[0] not in self.prompt_languages:
            return ""
        # 0 terms: the lead text alone
        return self.vocabulary.for_queue(domain).prompt(language, max(0, self.prompt_terms))

    def corrector(self, domain: str = "") -> Corrector:
        vocab = self.vocabulary
        queue = domain if domain in vocab.queues else ""
        with self._lock:  # built once per vocabulary version and queue (pinyin of every term)
            if self._corrector_version != vocab.version:
                self._correctors, self._corrector_version = {}, vocab.version
            found = self._correctors.get(queue)
            if found is None:
                v = vocab.for_queue(queue)
                found = self._correctors[queue] = Corrector(v.terms_for("zh"), v.no_correct)
            return found

    def warm_up(self) -> None:
        """Build the corrector and load jieba/pypinyin now, not on the first final (~1 s)."""
        if self.use_correction:
            self.corrector().correct("预热")

    def correct_text(self, text: str, language: str, domain: str = "") -> str:
        if not self.use_correction or not is_chinese(language):
            return text
        return self.corrector(domain).correct(text)

    def correct_words(self, words: list[str], language: str, domain: str = "") -> list[str]:
        if not self.use_correction or not is_chinese(language) or not words:
            return words
        return self.corrector(domain).correct_words(words)
