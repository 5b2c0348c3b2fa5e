"""WER and CER as the benchmarks and tests compute them (pure functions).

English: word error rate after lower-casing and dropping punctuation.  Mandarin: character
error rate after converting both sides to Simplified characters and dropping punctuation
and spaces (../shared/data/speech/README.md), with numbers written the way transcripts
write them, as digits, on both sides (:func:`models.whisper.text.spoken_digits_to_ascii`,
:func:`models.whisper.numbers.numerals_to_digits`: reference 两千四百九十九 vs Whisper 2499 is
no error).  No other number or spelling normalisation, so
"press 1" against "press one" counts as an error: the figures are conservative.  Hesitation
fillers ("um", "uh", ...) are dropped from both sides, as Whisper's own English normaliser
does: Whisper rarely writes them and they carry no content.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from models.whisper.numbers import numerals_to_digits
from models.whisper.text import is_chinese, spoken_digits_to_ascii, to_simplified

_PUNCT_CATEGORIES = ("P", "S")  # punctuation and symbols


def _strip_punct(s: str) -> str:
    # Keep apostrophes inside words ("don't"), drop every other punctuation/symbol.
    s = re.sub(r"(?<=\w)['’](?=\w)", "\u0001", s)
    s = "".join(" " if unicodedata.category(c)[0] in _PUNCT_CATEGORIES else c for c in s)
    return s.replace("\u0001", "'")


FILLERS = frozenset({"um", "umm", "uh", "uhh", "hmm", "hm", "mm", "mhm", "er", "erm", "ah"})


def words_for_wer(s: str) -> list[str]:
    return [w for w in _strip_punct(s.lower()).split() if w not in FILLERS]


def chars_for_cer(s: str) -> list[str]:
    s = numerals_to_digits(spoken_digits_to_ascii(to_simplified(unicodedata.normalize("NFKC", s))))
    return [c for c in _strip_punct(s) if not c.isspace()]


@dataclass(frozen=True)
class ErrorRate:
    errors: int
    ref_len: int

    @property
    def rate(self) -> float:
        return self.errors / self.ref_len if self.ref_len else float(self.errors > 0)

    def __add__(self, other: ErrorRate) -> ErrorRate:
        return ErrorRate(self.errors + other.errors, self.ref_len + other.ref_len)


def wer(ref: str, hyp: str) -> ErrorRate:
    r, h = words_for_wer(ref), words_for_wer(hyp)
    return ErrorRate(Levenshtein.distance(r, h), len(r))


def cer(ref: str, hyp: str) -> ErrorRate:
    r, h = chars_for_cer(ref), chars_for_cer(hyp)
    return ErrorRate(Levenshtein.distance(r, h), len(r))


def error_rate(ref: str, hyp: str, language: str) -> ErrorRate:
    """CER for Chinese, WER otherwise."""
    return cer(ref, hyp) if is_chinese(language) else wer(ref, hyp)
