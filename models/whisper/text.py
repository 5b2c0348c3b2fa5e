"""Text normalisation of Whisper output (pure functions).

Whisper often writes Mandarin in Traditional characters even when told ``zh`` (43% CER on
one real clip without conversion, design.md), so Mandarin output is converted to
Simplified with OpenCC's ``t2s`` table.  Whitespace is collapsed; nothing else is changed
(casing and punctuation are kept for the agent's screen; scoring normalises separately,
see :mod:`models.whisper.scoring`).
"""

from __future__ import annotations

import functools
import re
import unicodedata

_WS = re.compile(r"\s+")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}，。？！、：；])\s+(?=[{_CJK}，。？！、：；])")


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(s: str) -> str:
    return _t2s().convert(s) if s else s


def is_chinese(language: str | None) -> bool:
    return bool(language) and str(language).split("-")[0].lower() in ("zh", "yue")


def normalize_text(s: str, language: str | None) -> str:
    """Clean a whole utterance's text for display."""
    s = unicodedata.normalize("NFC", s).replace("\ufffd", "")  # last guard; see models.whisper.tokens
    s = _WS.sub(" ", s).strip()
    if is_chinese(language):
        s = to_simplified(s)
        s = _SPACE_BETWEEN_CJK.sub("", s)
    return s


def normalize_word(w: str, language: str | None) -> str:
    """Clean one word, keeping Whisper's leading space (it separates words in English)."""
    w = unicodedata.normalize("NFC", w).replace("\ufffd", "")
    if is_chinese(language):
        w = to_simplified(w)
    return w


def join_words(words: list[str], language: str | None) -> str:
    """Text of a word sequence (Whisper words carry their own leading spaces)."""
    return normalize_text("".join(words), language)
