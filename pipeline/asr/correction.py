"""Pinyin post-correction of Mandarin transcripts onto known domain terms (pure logic).

Whisper base writes homophones for words it rarely saw: 返还 -> 反环, 人人贷 -> 人人代,
现金价值 -> 现今价值.  A span of the transcript is replaced by a domain term only when the
evidence is strong:

- the span has the term's length and the **same pinyin**: with tones for terms of two or
  three characters (two-syllable homophones are everywhere in Mandarin), toneless but
  unfolded for four or more (longer sequences are rarely accidental);
- the span is **not an ordinary word**: a span that is itself in jieba's dictionary
  (现今, 由于, 手艺) is never rewritten, nor is a span that is a term already, nor one
  listed in the vocabulary's ``no_correct``;
- a two-character span must also start and end where jieba's segmentation of the sentence
  puts word boundaries ("打开护照" holds kai1 hu4 = 开户, but 开护 cuts 打开|护照); three
  matching toned syllables are evidence enough to cross one (人人代|理财 -> 人人贷);
- a pinyin key shared by two terms is ambiguous and corrects to neither;
- longer terms win over shorter ones; replacements never overlap.

Terms with non-Chinese characters (B款, APP) are not corrected (no pinyin to compare).
Every replacement is one character for one character, so word timings stay valid.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from streams.matching.text import CJK_CLASS, CJK_RUN

_ALL_CJK = re.compile(f"^[{CJK_CLASS}]+$")
MIN_TERM_CHARS = 2
MAX_TERM_CHARS = 8


@dataclass(frozen=True)
class Replacement:
    start: int  # character offsets in the corrected string
    end: int
    before: str
    after: str


@lru_cache(maxsize=1)
def _dictionary() -> dict[str, int]:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba.dt.FREQ  # type: ignore[no-any-return]


def _toned(run: str) -> list[str]:
    syl = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True)
    if len(syl) != len(run):  # defensive: one syllable per character
        syl = [lazy_pinyin(c, style=Style.TONE3, neutral_tone_with_five=True)[0] for c in run]
    return syl


@lru_cache(maxsize=256)
def _word_boundaries(run: str) -> frozenset[int]:
    _dictionary()  # jieba initialised
    import jieba

    out, pos = {0}, 0
    for w in jieba.lcut(run, HMM=False):
        pos += len(w)
        out.add(pos)
    return frozenset(out)


def _key(syllables: list[str], toned: bool) -> tuple[str, ...]:
    return tuple(syllables) if toned else tuple(s.rstrip("012345") for s in syllables)


class Corrector:
    """Maps near-homophone spans onto the given domain terms."""

    def __init__(self, terms: Iterable[str], no_correct: Iterable[str] = ()) -> None:
        self.terms = tuple(
            dict.fromkeys(
                t for t in terms if _ALL_CJK.match(t) and MIN_TERM_CHARS <= len(t) <= MAX_TERM_CHARS
            )
        )
        self._term_set = frozenset(self.terms)
        self._no_correct = frozenset(no_correct)
        # (length, pinyin key) -> term; a key shared by two terms is ambiguous: dropped.
        index: dict[tuple[int, tuple[str, ...]], str | None] = {}
        for term in self.terms:
            k = (len(term), _key(_toned(term), toned=len(term) <= 3))
            index[k] = term if k not in index or index[k] == term else None
        self._index = {k: v for k, v in index.items() if v is not None}
        self._lengths = sorted({n for n, _k in self._index}, reverse=True)

    def _accept(self, span: str, term: str) -> bool:
        if span == term or span in self._term_set or term in self._no_correct:
            return False
        if _dictionary().get(span, 0) > 0:  # an ordinary word: never rewritten
            return False
        return True

    def _match_at(self, run: str, syl: list[str], i: int) -> tuple[int, str] | None:
        """(length, term) of the longest term matching at ``i`` (spelt right or correctable)."""
        for n in self._lengths:
            if i + n > len(run):
                continue
            span = run[i : i + n]
            if span in self._term_set:
                return n, span
            term = self._index.get((n, _key(syl[i : i + n], toned=n <= 3)))
            if term is None or not self._accept(span, term):
                continue
            if n == 2:
                cuts = _word_boundaries(run)
                if i not in cuts or i + n not in cuts:
                    continue
            return n, term
        return None

    def find(self, text: str) -> list[Replacement]:
        """Replacements for ``text``, left to right, longest term first at each position."""
        if not self._index:
            return []
        out: list[Replacement] = []
        for m in CJK_RUN.finditer(text):
            run, base = m.group(0), m.start()
            syl = _toned(run)
            i = 0
            while i < len(run):
                step = self._match_at(run, syl, i)
                if step is None:
                    i += 1
                    continue
                n, term = step
                if term != run[i : i + n]:
                    out.append(Replacement(base + i, base + i + n, run[i : i + n], term))
                i += n  # a term already spelt right is skipped whole, never re-corrected inside
        return out

    def correct(self, text: str) -> str:
        chars = list(text)
        for r in self.find(text):
            chars[r.start : r.end] = r.after
        return "".join(chars)

    def correct_words(self, words: list[str]) -> list[str]:
        """Correct a word sequence as one text (a term can span words), cut back per word."""
        joined = self.correct("".join(words))
        out, pos = [], 0
        for w in words:
            out.append(joined[pos : pos + len(w)])
            pos += len(w)
        return out
