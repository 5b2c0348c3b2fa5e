"""Text normalisation and tokenisation shared by KB retrieval and compliance matching.

ASR output is noisy in ways that matter for matching: Whisper writes Mandarin in
Traditional or Simplified characters, inserts spaces between Chinese words, mixes
full-width and half-width forms, spells digits as 一二三七八 or 12378, and swaps
homophones (退保 -> 退宝).  Everything here maps text to a canonical form *and keeps
a map back to the original characters*, so every match can quote the exact span the
agent saw on screen as evidence.

Pure module: no I/O, no Kafka.  jieba loads its dictionary lazily; call
:func:`load` at worker start so the first segment does not pay ~1 s.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import jieba
from pypinyin import Style, lazy_pinyin

# One convention for transcripts and matching: the same Simplified conversion (OpenCC,
# loaded lazily on first use) and the same digit-string rule as the ASR output.
from models.whisper.numbers import find_numerals
from models.whisper.text import spoken_digits_to_ascii, to_simplified

jieba.setLogLevel(logging.WARNING)


def load() -> None:
    """Load jieba's dictionary and OpenCC now (they otherwise load on first use, ~1 s)."""
    jieba.initialize()
    to_simplified("載入")


#: Han characters, as a regex character-class body: CJK Unified Ideographs, Extension A and
#: the Compatibility Ideographs.  The one definition for streams/, pipeline/ and assist_ui/;
#: models/whisper/text.py keeps an identical copy (models/ imports nothing of ours), and
#: tests/unit/test_text_conventions.py holds the two equal.
CJK_CLASS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RUN = re.compile(f"[{CJK_CLASS}]+")
_CJK_CHAR = re.compile(f"[{CJK_CLASS}]")


def is_cjk(ch: str) -> bool:
    """Is the one character ``ch`` a Han character (:data:`CJK_CLASS`)?"""
    return _CJK_CHAR.fullmatch(ch) is not None


def has_cjk(text: str) -> bool:
    return _CJK_CHAR.search(text) is not None


def cjk_share(text: str) -> float:
    """Share of the characters of ``text`` that are Han (0 for empty text)."""
    return len(_CJK_CHAR.findall(text)) / len(text) if text else 0.0


@dataclass(frozen=True, slots=True)
class NormText:
    """Normalised text plus, for each of its characters, the index in the original."""

    original: str
    text: str
    offsets: tuple[int, ...]

    def orig_span(self, start: int, end: int) -> tuple[int, int]:
        """Original [start, end) for normalised [start, end) (end exclusive)."""
        if not self.offsets or start >= end:
            return (0, 0)
        start = max(0, min(start, len(self.offsets) - 1))
        end = max(start + 1, min(end, len(self.offsets)))
        return self.offsets[start], self.offsets[end - 1] + 1

    def orig_text(self, start: int, end: int) -> str:
        a, b = self.orig_span(start, end)
        return self.original[a:b]


def normalize(text: str) -> NormText:
    """Canonical form: NFKC, lower case, Simplified, punctuation -> one space,
    no spaces between two CJK characters, digit strings (>= 3 digits, 一三八 or 1三8) -> ASCII
    digits, numerals with units -> their value (两千四百 -> 2400), exactly as
    :func:`models.whisper.text.normalize_text` writes transcripts."""
    converted = to_simplified(text)
    # t2s is character-for-character for almost all text; if a phrase conversion changed
    # the length we cannot map offsets, so keep the original characters instead.
    src = converted if len(converted) == len(text) else text
    out: list[str] = []
    offs: list[int] = []
    for i, ch in enumerate(src):
        for c in unicodedata.normalize("NFKC", ch).lower():
            if c.isalnum():
                out.append(c)
                offs.append(i)
            elif out and out[-1] != " ":
                out.append(" ")
                offs.append(i)
    while out and out[-1] == " ":
        out.pop()
        offs.pop()
    # drop spaces that separate two CJK characters (ASR word spacing in Mandarin)
    keep = [
        k
        for k, c in enumerate(out)
        if not (c == " " and 0 < k < len(out) - 1 and is_cjk(out[k - 1]) and is_cjk(out[k + 1]))
    ]
    s = "".join(out[k] for k in keep)
    o = [offs[k] for k in keep]
    s = spoken_digits_to_ascii(s)
    s, o = _numerals_as_digits(s, o)
    return NormText(text, s, tuple(o))


def _numerals_as_digits(s: str, offs: list[int]) -> tuple[str, list[int]]:
    """两千四百 -> 2400 (as transcripts write it); the digits map to the numeral's span."""
    matches = find_numerals(s)
    if not matches:
        return s, offs
    out: list[str] = []
    o: list[int] = []
    pos = 0
    for a, b, digits in matches:
        out.append(s[pos:a])
        o.extend(offs[pos:a])
        out.append(digits)
        o.extend([offs[a]] * (len(digits) - 1) + [offs[b - 1]])
        pos = b
    out.append(s[pos:])
    o.extend(offs[pos:])
    return "".join(out), o


# ---------------------------------------------------------------------------
# pinyin
# ---------------------------------------------------------------------------
# Folding of sounds that Mandarin speakers (and ASR) commonly confuse: retroflex vs
# dental initials, n/l, and front/back nasal finals.  Used only for matching.
_FOLD_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"))
_FOLD_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


@lru_cache(maxsize=8192)
def fold_syllable(syl: str) -> str:
    for a, b in _FOLD_INITIALS:
        if syl.startswith(a):
            syl = b + syl[len(a):]
            break
    for a, b in _FOLD_FINALS:
        if syl.endswith(a):
            syl = syl[: -len(a)] + b
            break
    return syl


@dataclass(frozen=True, slots=True)
class Syllable:
    folded: str  # toneless, folded: for phrases of 3+ characters
    toned: str  # with tone number, unfolded: 2-character phrases must match exactly this
    index: int  # position of the character in NormText.text


def pinyin_syllables(norm: NormText) -> list[Syllable]:
    """Pinyin of the CJK characters of ``norm``, one per character.  Non-CJK characters
    are skipped (digits and Latin letters are matched on the text itself)."""
    result: list[Syllable] = []
    text = norm.text
    i = 0
    while i < len(text):
        if not is_cjk(text[i]):
            i += 1
            continue
        j = i
        while j < len(text) and is_cjk(text[j]):
            j += 1
        run = text[i:j]
        toned = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True)
        if len(toned) != len(run):  # defensive: one syllable per character expected
            toned = [lazy_pinyin(c, style=Style.TONE3, neutral_tone_with_five=True)[0] for c in run]
        result.extend(Syllable(fold_syllable(t.rstrip("012345")), t, i + k) for k, t in enumerate(toned))
        i = j
    return result


def phrase_pinyin(phrase: str) -> list[str]:
    return [s.folded for s in pinyin_syllables(normalize(phrase))]


# ---------------------------------------------------------------------------
# retrieval tokens
# ---------------------------------------------------------------------------
_EN_STOP = frozenset(
    "a an the and or but if of to in on at by for with from is are was were be been being am i me my "
    "you your yours we our us he she it its they them their this that these those there here do does "
    "did have has had can could would should will shall may might must so just very too also please "
    "um uh oh okay ok yeah yes no hi hello".split()
)
_ZH_STOP = frozenset(
    "的 了 吗 呢 啊 吧 呀 嗯 哦 哎 我 你 您 他 她 它 我们 你们 是 在 就 都 也 还 这 那 这个 那个 一下 "
    "一个 有 和 跟 就是 然后 那么 请问 请 想 要 能 可以 怎么 什么 为什么 吗 啦 嘛 个 给".split()
)


def stem_en(word: str) -> str:
    """A deliberately light stemmer: ASR inflection noise (claim/claims/claimed,
    take/taking).  A suffix is stripped only if at least 3 letters remain."""
    for suf in ("ing", "ied", "ies", "ed", "es", "s"):
        if word.endswith(suf) and len(word) - len(suf) >= 3 and not word.endswith("ss"):
            stem = word[: -len(suf)]
            if suf in ("ied", "ies"):
                stem += "y"
            return _strip_e(stem)
    return _strip_e(word)


def _strip_e(word: str) -> str:
    # guarantee/guaranteed, take/taking, lose/losing map to one stem
    stripped = word.rstrip("e")
    return stripped if len(word) >= 4 and len(stripped) >= 3 else word


def en_words(norm_text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", norm_text)]


def retrieval_tokens(text: str) -> list[str]:
    """BM25 tokens for mixed zh/en text.

    English: stemmed content words.  Chinese: jieba words, character bigrams (robust
    to one wrong character and to segmentation differences) and pinyin bigrams
    (robust to homophone substitutions by the ASR)."""
    norm = normalize(text)
    tokens: list[str] = []
    tokens.extend(stem_en(w) for w in en_words(norm.text) if w not in _EN_STOP)
    for run in CJK_RUN.findall(norm.text):
        tokens.extend(w for w in jieba.lcut(run) if w not in _ZH_STOP and len(w) > 1 or _is_content_char(w))
        tokens.extend(run[k : k + 2] for k in range(len(run) - 1))
        syls = [fold_syllable(s) for s in lazy_pinyin(run, style=Style.NORMAL)]
        tokens.extend(f"{a}_{b}" for a, b in zip(syls, syls[1:], strict=False))
    return tokens


_CONTENT_CHARS = frozenset("钱卡费险保赔车病死伤骗")


def _is_content_char(w: str) -> bool:
    # single characters that still carry intent in customer speech
    return len(w) == 1 and w in _CONTENT_CHARS


def unique(tokens: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for t in tokens:
        seen.setdefault(t, None)
    return list(seen)
