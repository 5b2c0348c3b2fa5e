"""PII redaction for transcripts in Mandarin and English (pure, no I/O).

What is found and replaced by a label:
- ``[EMAIL]``: written (``a.b@x.com``, full-width ＠) and spoken (``john dot li at gmail dot com``,
  ``john 艾特 qq 点 com``) addresses;
- ``[ID_CARD]``: PRC resident ID numbers, 18 characters (last may be X) or the old 15 digits, by
  their region/birth-date structure (not the checksum: an ASR slip must not leak the number);
- ``[BANK_CARD]``: 16–19 digits passing the Luhn check;
- ``[PHONE]``: mainland mobiles ``1[3-9]`` + 9 digits (with or without +86/0086), landlines with an
  area code, US numbers in phone layout or after +1, and any ``+<country code>`` number;
- any run of 7+ digits right after a cue word (电话, 手机, 卡号, 身份证, phone, card, account, ...)
  gets the cue's label even when its structure does not fit (ASR garbles digits).

Digits may be ASCII, full-width, Chinese (零〇一二两三四五六七八九幺) or English words
(zero/oh/one…nine), grouped with spaces, dashes, dots or parentheses, as transcripts write
phone numbers.  A run that holds two numbers back to back (``ID 110… 138…``) is split on its
group boundaries and each part classified.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

LABELS = {"email": "[EMAIL]", "id_card": "[ID_CARD]", "bank_card": "[BANK_CARD]", "phone": "[PHONE]"}


@dataclass(frozen=True)
class PiiSpan:
    kind: str  # a key of LABELS
    start: int
    end: int


# -- e-mail ---------------------------------------------------------------------
# the look-behinds make a match start only at the beginning of a word: without them a long
# run of letters costs O(n²) backtracking (a 2 KB transcript took 50 ms)
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+\s?[@＠]\s?[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}")
_TLD = r"(?:com|net|org|edu|gov|cn|io|co|uk|hk|tw|us|de|fr|jp|info|biz)"
_SPOKEN_EMAIL = re.compile(
    r"(?i)(?<![A-Za-z0-9])[A-Za-z0-9._\-]+(?:\s+(?:dot|点)\s+[A-Za-z0-9_\-]+)*"
    r"\s*(?:\bat\b|艾特|圈a|＠)\s*[A-Za-z0-9\-]+(?:\s*(?:\bdot\b|点|\.)\s*[A-Za-z0-9\-]+)*"
    r"\s*(?:\bdot\b|点|\.)\s*" + _TLD + r"\b"
)

# -- digits -----------------------------------------------------------------------
_ZH_DIGITS = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4",
              "五": "5", "六": "6", "七": "7", "八": "8", "九": "9"}
_EN_DIGITS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
              "six": "6", "seven": "7", "eight": "8", "nine": "9"}
_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_EN_WORD = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine)"
_TOKEN = re.compile(
    r"[0-9０-９]+|[零〇一幺二两三四五六七八九]+"
    r"|(?i:\b(?:double|triple)\s+(?:" + _EN_WORD + r"\b|[0-9]\b))|(?i:\b" + _EN_WORD + r"\b)"
)
_REPEAT = {"double": 2, "triple": 3}
# between two digit groups: up to 3 separator characters (ASCII and Chinese punctuation,
# 、 included) or a spoken separator word; zero-width characters are ignored wherever they are
_SEP = re.compile(r"^[\s\-–—‐‑.,，、·()（）/]{0,3}$")
_SPOKEN_SEP = re.compile(r"(?i)\b(?:dash|hyphen)\b|横杠|杠")
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u00ad]")
_MIN_DIGITS = 7
_MAX_DIGITS = 24  # the longest PII number plus a country prefix; bounds the window search

_CUES: list[tuple[str, re.Pattern[str]]] = [
    ("id_card", re.compile(r"(?i)(身份证|证件号|id\s*(?:card|number)|identity|passport)")),
    ("bank_card", re.compile(r"(?i)(银行卡|信用卡|卡号|账号|帐号|账户|帐户|户号|card|account)")),
    ("phone", re.compile(r"(?i)(电话|手机|号码|联系方式|phone|mobile|cell|tel\b|call me|reach me)")),
]
_CUE_WINDOW = 16


def _gap_ok(gap: str) -> bool:
    """Whether the text between two digit groups still joins them into one number."""
    if not gap:
        return True
    gap = _SPOKEN_SEP.sub("", _ZERO_WIDTH.sub("", gap), count=1)
    return bool(_SEP.match(gap))


def _digits_of(token: str) -> str:
    t = token.lower()
    first, _, rest = t.partition(" ")
    if first in _REPEAT:
        rest = rest.strip()
        return _digits_of(rest) * _REPEAT[first]
    if t in _EN_DIGITS:
        return _EN_DIGITS[t]
    if token[0] in _ZH_DIGITS:
        return "".join(_ZH_DIGITS[c] for c in token)
    return token.translate(_FULLWIDTH)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_ID18 = re.compile(r"^[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]$")
_ID15 = re.compile(r"^[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}$")
_CN_MOBILE = re.compile(r"^(?:0086|86)?1[3-9]\d{9}$")
_NANP = re.compile(r"^1?[2-9]\d{9}$")


def classify(digits: str, groups: list[int] | None, plus: bool, cue: str | None) -> str | None:
    """Kind of PII a digit string is.

    ``groups``: the lengths of its written digit groups, or None when the digits were
    spoken (words, Chinese digits), whose grouping a transcript does not keep.
    """
    n = len(digits)
    if _ID18.match(digits) or (_ID15.match(digits) and (groups is None or len(groups) <= 2)):
        return "id_card"
    if "X" in digits:
        return None
    if 16 <= n <= 19 and luhn_ok(digits):
        return "bank_card"
    if _CN_MOBILE.match(digits):
        return "phone"
    if plus and 7 <= n <= 15:
        return "phone"
    # US numbers: only in phone layout (3-3-4, 3-7, 1-3-3-4) or after +1, so a bare
    # 10-digit order number is left alone unless a cue word precedes it
    spoken_or_layout = groups is None or groups in ([3, 3, 4], [3, 7], [1, 3, 3, 4], [1, 3, 7], [1, 10])
    if _NANP.match(digits) and (plus or spoken_or_layout):
        return "phone"
    # mainland landline with its area code written apart: 010-12345678, (0755) 8888 8888
    if digits.startswith("0") and groups and len(groups) >= 2 and groups[0] in (3, 4) and 7 <= n - groups[0] <= 8:
        return "phone"
    if cue and n >= _MIN_DIGITS:
        return cue
    return None


@dataclass
class _Tok:
    start: int
    end: int
    digits: str
    spoken: bool


def _layout(window: list[_Tok]) -> list[int] | None:
    return None if any(t.spoken for t in window) else [len(t.digits) for t in window]


def _runs(text: str, blocked: list[tuple[int, int]]) -> Iterable[list[_Tok]]:
    run: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        if any(s <= m.start() < e for s, e in blocked):
            continue
        tok = _Tok(m.start(), m.end(), _digits_of(m.group()), not m.group()[0].isdigit())
        if run and not _gap_ok(text[run[-1].end : tok.start]):
            yield run
            run = []
        run.append(tok)
    if run:
        yield run


def _cue_before(text: str, pos: int) -> str | None:
    window = text[max(0, pos - _CUE_WINDOW) : pos]
    best: tuple[int, str] | None = None
    for kind, pattern in _CUES:
        for m in pattern.finditer(window):
            if best is None or m.end() > best[0]:
                best = (m.end(), kind)
    return best[1] if best else None


def _number_spans(text: str, blocked: list[tuple[int, int]]) -> list[PiiSpan]:
    spans: list[PiiSpan] = []
    for run in _runs(text, blocked):
        if sum(len(t.digits) for t in run) < _MIN_DIGITS:
            continue
        i = 0
        while i < len(run):
            found = _classify_from(text, run, i)
            if found:
                spans.append(found[1])
                i = found[0] + 1
            else:
                i += 1
    return spans


def _classify_from(text: str, run: list[_Tok], i: int) -> tuple[int, PiiSpan] | None:
    """The longest window of whole digit groups starting at run[i] that is PII, if any.

    Windows hold at most _MAX_DIGITS digits, so a long run of numbers costs linear time.
    """
    start = run[i].start
    if start > 0 and text[start - 1].isascii() and text[start - 1].isalnum():
        return None  # part of a code like "AB1234567", not a number on its own
    # a leading '+' (or '＋') marks an international number
    prefix = text[max(0, start - 2) : start]
    plus = prefix.rstrip().endswith(("+", "＋"))
    if plus:
        start = text.rindex("+" if "+" in prefix else "＋", 0, start)
    cue = _cue_before(text, start)
    last, count = i, 0
    while last < len(run) and count + len(run[last].digits) <= _MAX_DIGITS:
        count += len(run[last].digits)
        last += 1
    for j in range(last - 1, i - 1, -1):
        window = run[i : j + 1]
        digits = "".join(t.digits for t in window)
        if len(digits) < _MIN_DIGITS:
            return None
        end = window[-1].end
        # the ID card check letter follows the last digit
        if end < len(text) and text[end] in "Xx×" and not text[end + 1 : end + 2].isalpha():
            if classify(digits + "X", _layout(window), plus, None) == "id_card":
                return j, PiiSpan("id_card", start, end + 1)
        kind = classify(digits, _layout(window), plus, cue)
        if kind:
            if start > 0 and text[start - 1] in "(（" and kind == "phone":
                start -= 1  # "(415) 555-2671": the area code's bracket goes too
            return j, PiiSpan(kind, start, end)
    return None


_SPOKEN_AT = re.compile(r"(?i)\bat\b|艾特|圈a|＠")


_SPELLED_BEFORE = re.compile(r"(?:(?<!\S)[A-Za-z0-9][ \t]+){2,}$")  # two or more letters spelled out


def _spelled_start(text: str, start: int) -> int:
    """Where an address spelled letter by letter ("j o h n@…", "j o h n at …") really begins."""
    m = _SPELLED_BEFORE.search(text, max(0, start - 80), start)
    return m.start() if m else start


def find_pii(text: str) -> list[PiiSpan]:
    """Non-overlapping PII spans of ``text``, in order."""
    spans = []
    if "@" in text or "＠" in text:
        spans = [PiiSpan("email", _spelled_start(text, m.start()), m.end()) for m in _EMAIL.finditer(text)]
    for m in _SPOKEN_EMAIL.finditer(text) if _SPOKEN_AT.search(text) else ():
        if not any(s.start < m.end() and m.start() < s.end for s in spans):
            spans.append(PiiSpan("email", _spelled_start(text, m.start()), m.end()))
    spans += _number_spans(text, [(s.start, s.end) for s in spans])
    spans.sort(key=lambda s: s.start)
    out: list[PiiSpan] = []
    for s in spans:
        if out and s.start < out[-1].end:
            continue
        out.append(s)
    return out


def redact(text: str) -> str:
    """``text`` with every PII span replaced by its label."""
    if not text:
        return text
    spans = find_pii(text)
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for s in spans:
        parts.append(text[pos : s.start])
        parts.append(LABELS[s.kind])
        pos = s.end
    parts.append(text[pos:])
    return "".join(parts)


#: keys whose values are identifiers/enums produced by callassist itself, not speech.
#: ``queue`` is not one: it comes from the integrator's call metadata and has carried numbers.
KEEP_KEYS = frozenset({
    "call_id", "agent_id", "segment_id", "alert_id", "suggestion_id", "window_id", "rule_id", "rule_kind",
    "severity", "channel", "language", "kind", "intent", "state", "trend", "risk_level",
    "kb_version", "rules_version", "source", "reason", "encoding",
})
#: keys holding a list of transcript segments: redacted over each channel's joined text
SEGMENT_LISTS = frozenset({"transcript", "segments"})
_JOIN = " "  # what stands between two segments of one channel in the joined text


def redact_segments(segments: list[Any], keep: frozenset[str] = KEEP_KEYS) -> list[Any]:
    """Redact transcript segments over each channel's joined text, mapped back to the segments.

    A number or address split across two segments ("我的手机是138" + "1234 5678") is found in
    the joined text; the part in the first segment becomes the label and the rest is removed
    from the later ones.  Every other field goes through :func:`redact_obj`.
    """
    out = [redact_obj({k: v for k, v in s.items() if k != "text"}, keep) if isinstance(s, dict) else redact_obj(s, keep)
           for s in segments]
    by_channel: dict[Any, list[int]] = {}
    for i, s in enumerate(segments):
        if isinstance(s, dict) and isinstance(s.get("text"), str):
            by_channel.setdefault(str(s.get("channel", "")), []).append(i)
    for indexes in by_channel.values():
        indexes.sort(key=lambda i: _start_of(segments[i]))
        texts = [segments[i]["text"] for i in indexes]
        joined = _JOIN.join(texts)
        offsets, pos = [], 0
        for t in texts:
            offsets.append(pos)
            pos += len(t) + len(_JOIN)
        cuts: list[list[tuple[int, int, str]]] = [[] for _ in texts]  # per segment: (start, end, replacement)
        for span in find_pii(joined):
            first = True
            # only the segments the span overlaps (a bisect, not a scan: a long call has
            # thousands of segments and a span per number, and a scan made it quadratic)
            n = max(0, bisect.bisect_right(offsets, span.start) - 1)
            while n < len(texts) and offsets[n] < span.end:
                off, t = offsets[n], texts[n]
                lo, hi = max(span.start, off), min(span.end, off + len(t))
                if lo < hi:
                    cuts[n].append((lo - off, hi - off, LABELS[span.kind] if first else ""))
                    first = False
                n += 1
        for n, i in enumerate(indexes):
            out[i]["text"] = _apply_cuts(texts[n], cuts[n])
    return out


def _start_of(segment: dict[str, Any]) -> float:
    start = segment.get("start")
    return float(start) if isinstance(start, (int, float)) and not isinstance(start, bool) else 0.0


def _apply_cuts(text: str, cuts: list[tuple[int, int, str]]) -> str:
    parts, pos = [], 0
    for start, end, label in cuts:
        parts += [text[pos:start], label]
        pos = end
    parts.append(text[pos:])
    return "".join(parts)


def redact_obj(obj: Any, keep: frozenset[str] = KEEP_KEYS) -> Any:
    """A deep copy of a JSON-like value with every string redacted (except values under ``keep`` keys).

    ``words`` lists are dropped: a number is often split over several word entries, so
    redacting each word alone would leak it; the segment text carries the same words.
    Segment lists (``transcript``, ``segments``) are redacted across segment boundaries.
    Dictionary keys are redacted too (a class name is never PII; a key sent by a client may be).
    """
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, list):
        return [redact_obj(v, keep) for v in obj]
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            key = redact(k) if isinstance(k, str) else k
            if k == "words":
                out[key] = []
            elif k in keep and isinstance(v, str):
                out[key] = v
            elif k in SEGMENT_LISTS and isinstance(v, list):
                out[key] = redact_segments(v, keep)
            else:
                out[key] = redact_obj(v, keep)
        return out
    return obj
