"""Text normalisation of transcripts (pure functions), shared with rule/KB matching.

One convention, applied the same way to transcripts (here), to compliance/KB matching
(:func:`streams.matching.text.normalize` calls :func:`to_simplified` and :func:`spoken_digits_to_ascii`)
and, for PII redaction, to the text it scans (it sees these transcripts):

- **Simplified characters**: Whisper often writes Mandarin in Traditional (43% CER on one real
  clip without conversion, design.md).  OpenCC ``tw2s`` (Taiwan forms -> Simplified, with its
  phrase table): plain ``t2s`` leaves the particle 著 (看著, 随著) as it is, ``tw2s`` gives
  看着 and still keeps 著名/显著.  OpenCC loads lazily, on first use, never at import.
- **Full-width punctuation in Chinese text**: ASCII ``, . ? ! : ; ( )`` next to a Chinese
  character become ``，。？！：；（）``; ``3.5``, ``e.g.`` and English text stay ASCII.
  Full-width digits and Latin letters become ASCII (NFKC for letters and digits only).
- **Numbers are digits**: a run of three or more spoken digits (一三八零零, 一九九八, mixed
  138零零) becomes ASCII digits one for one (13800, 1998): that is how phone, card and policy
  numbers are written, and what PII redaction looks for.  Numerals with units become their
  value (两千四百九十九 -> 2499, 六十四G -> 64G; :mod:`models.whisper.numbers`, strict, so
  十分, 一下, 万一, 千万, 百万医疗, 三四十 stay words).  Shorter digit runs (三四个, 一二) stay.
  Whisper itself writes most amounts as digits; the references and rule authors often do not.
Casing is kept for the agent's screen; scoring normalises separately
(:mod:`models.whisper.scoring`).
"""

from __future__ import annotations

import functools
import re
import unicodedata

from models.whisper.numbers import find_numerals, numerals_to_digits

_WS = re.compile(r"\s+")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_ZH_PUNCT = "，。？！、：；（）"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}{_ZH_PUNCT}])\s+(?=[{_CJK}{_ZH_PUNCT}])")
_CJK_CHAR = re.compile(rf"[{_CJK}]")

SPOKEN_DIGITS = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
                 "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}  # fmt: skip
# A digit string: >= 3 spoken or written digits with at least one spoken one.
_DIGIT_RUN = re.compile(f"[0-9{''.join(SPOKEN_DIGITS)}]{{3,}}")
_TO_FULL_WIDTH = {",": "，", ".": "。", "?": "？", "!": "！", ":": "：", ";": "；", "(": "（", ")": "）"}


@functools.lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("tw2s")


def to_simplified(s: str) -> str:
    return _converter().convert(s) if s else s


def is_chinese(language: str | None) -> bool:
    return bool(language) and str(language).split("-")[0].lower() in ("zh", "yue")


def spoken_digits_to_ascii(s: str) -> str:
    """一三八零零 -> 13800 (runs of >= 3 digits); one character for one character."""

    def conv(m: re.Match[str]) -> str:
        run = m.group(0)
        if run.isascii():
            return run
        return "".join(SPOKEN_DIGITS.get(c, c) for c in run)

    return _DIGIT_RUN.sub(conv, s)


def _half_width_alnum(s: str) -> str:
    return "".join(
        unicodedata.normalize("NFKC", c) if "\uff10" <= c <= "\uff5a" and c.isalnum() else c for c in s
    )


def full_width_punctuation(s: str) -> str:
    """ASCII punctuation beside a Chinese character -> full width (one for one)."""
    out = list(s)
    for i, c in enumerate(s):
        full = _TO_FULL_WIDTH.get(c)
        if full is None:
            continue
        before = s[:i].rstrip()[-1:]
        after = s[i + 1 :].lstrip()[:1]
        if c == "." and before.isdigit() and after.isdigit():
            continue  # 3.5
        if _CJK_CHAR.match(before or " ") or _CJK_CHAR.match(after or " ") or before in _ZH_PUNCT:
            out[i] = full
    return "".join(out)


def _zh_chars(s: str) -> str:
    """The one-for-one Chinese conventions: width, punctuation, digit strings."""
    return spoken_digits_to_ascii(full_width_punctuation(_half_width_alnum(s)))


def _clean(s: str) -> str:
    return unicodedata.normalize("NFC", s).replace("\ufffd", "")  # last guard; see models.whisper.tokens


def normalize_text(s: str, language: str | None) -> str:
    """Clean a whole utterance's text for display and matching."""
    s = _WS.sub(" ", _clean(s)).strip()
    if is_chinese(language):
        s = to_simplified(s)
        s = numerals_to_digits(_zh_chars(s))
        s = _SPACE_BETWEEN_CJK.sub("", s)
    return s


def normalize_word(w: str, language: str | None) -> str:
    """Clean one word, keeping Whisper's leading space (it separates words in English)."""
    return normalize_words([w], language)[0]


def normalize_words(words: list[str], language: str | None) -> list[str]:
    """Clean a word sequence with the same conventions as :func:`normalize_text`.

    Punctuation and numbers depend on the neighbouring words (一三八 | 零零 and 两千 | 四百
    are one number each), so the conversions run on the words joined and are cut back at
    the same positions; each word keeps its own leading space.  A numeral with units goes
    whole to the word where it starts; words it used up come back empty (the caller merges
    their timing into that word)."""
    cleaned = [_clean(w) for w in words]
    if not is_chinese(language):
        return cleaned
    cleaned = [to_simplified(w) for w in cleaned]
    joined = _zh_chars("".join(cleaned))
    starts = {a: (b, digits) for a, b, digits in find_numerals(joined)}
    out, pos, skip_to = [], 0, 0
    for w in cleaned:
        chars = []
        for k in range(pos, pos + len(w)):
            if k < skip_to:
                continue
            if k in starts:
                skip_to, digits = starts[k]
                chars.append(digits)
            else:
                chars.append(joined[k])
        out.append("".join(chars))
        pos += len(w)
    return out


def join_words(words: list[str], language: str | None) -> str:
    """Text of a word sequence (Whisper words carry their own leading spaces)."""
    return normalize_text("".join(words), language)
