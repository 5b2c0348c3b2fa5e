"""Chinese numerals with units -> Arabic digits (pure functions): 两千四百九十九 -> 2499.

Whisper writes most amounts as digits (2499, 64G), people and references write them in
characters (两千四百九十九, 六十四G).  One convention is needed so that a rule, a KB
keyword, a redaction pattern and a CER score see the same thing: **digits**.  Digit
strings (一三八零零) are handled by :func:`models.whisper.text.spoken_digits_to_ascii`;
this module handles numerals with units, strictly, so that ordinary words survive:

- the expression must start with a digit (一…九, 两) or 十 followed by a digit/unit, and
  parse completely as a number below 10^12 (亿 > 万 > 千 > 百 > 十, each at most once per
  section, 零 only as a gap) -- 十分, 万一, 千万, 百万, 一下, 三四十, 十几 are not numbers;
- a bare 十 (十分, 十全十美) is left alone; colloquial shortening is read the way it is
  spoken: 一千三百八 = 1380, 三千五 = 3500, 两万五 = 25000.
"""

from __future__ import annotations

import re

DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
_CANDIDATE = re.compile("[零〇一二两三四五六七八九十百千万亿]+")


def _parse_section(s: str) -> int | None:
    """A number below 10^4 written with 千/百/十 (and 零 gaps), or None."""
    value, i, last_unit, pending = 0, 0, 10_000, None
    zero_gap = False
    while i < len(s):
        c = s[i]
        if c in ("零", "〇"):
            if pending is not None or zero_gap or value == 0:
                return None
            zero_gap = True
            i += 1
            continue
        if c in DIGIT:
            if pending is not None:
                return None  # two digits in a row (三四十): not one number
            pending = DIGIT[c]
            i += 1
            continue
        unit = SMALL_UNITS.get(c)
        if unit is None or unit >= last_unit:
            return None
        if pending is None:
            if c != "十" or value != 0:  # only 十 may stand without a digit (十五), and only first
                return None
            pending = 1
        value += pending * unit
        last_unit, pending, zero_gap = unit, None, False
        i += 1
    if pending is not None:
        if last_unit in (10_000, 10) or zero_gap:
            value += pending  # a plain digit (五), units after 十 (十五), after a gap (三百零五)
        else:
            value += pending * (last_unit // 10)  # 三千五 = 3500, 一千三百八 = 1380
    return value


def parse_numeral(s: str) -> int | None:
    """Value of a whole numeral expression, or None when it is not one number."""
    if not s or s[0] not in DIGIT and s[0] != "十" or s[0] in ("零", "〇"):
        return None
    if not any(c in SMALL_UNITS or c in BIG_UNITS for c in s):
        return None  # digit strings are spoken_digits_to_ascii's job
    if s == "十":
        return None
    total = 0
    rest = s
    for unit_char, unit in (("亿", 100_000_000), ("万", 10_000)):
        if unit_char in rest:
            head, _, rest = rest.partition(unit_char)
            if unit_char in rest or not head:
                return None
            v = _parse_section(head)
            if v is None or v == 0:
                return None
            total += v * unit
            if rest and rest[0] in DIGIT and len(rest) == 1 and rest not in ("零", "〇"):
                return total + DIGIT[rest] * unit // 10  # 两万五 = 25000
            if rest.startswith(("零", "〇")):
                rest = rest[1:]
                if not rest:
                    return None
    if rest:
        v = _parse_section(rest)
        if v is None:
            return None
        total += v
    return total


def find_numerals(s: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of every numeral with units in ``s``.

    Each candidate run is taken as long as possible; if the whole run is not one number, the
    longest prefix that is one is used (五千块 is fine; 三四十 is none)."""
    out = []
    for m in _CANDIDATE.finditer(s):
        run, base = m.group(0), m.start()
        i = 0
        while i < len(run):
            if i > 0 and run[i - 1] in DIGIT:
                i += 1  # never start inside 三四十 (a range, not a number)
                continue
            for j in range(len(run), i, -1):
                v = parse_numeral(run[i:j])
                if v is not None and (j - i) >= 2:
                    out.append((base + i, base + j, str(v)))
                    i = j
                    break
            else:
                i += 1
    return out


def numerals_to_digits(s: str) -> str:
    parts: list[str] = []
    pos = 0
    for a, b, digits in find_numerals(s):
        parts.extend((s[pos:a], digits))
        pos = b
    parts.append(s[pos:])
    return "".join(parts)
