"""Guards that keep an ASR-tolerant match from flipping what was said.

Fuzzy and token matching forgive ASR noise, but some words carry the meaning of a phrase:
a negation (no / not / never / n't, 不 / 没 / 无 / 非 / 别 / 未) or who it is about (your / my).
"that's your problem" must not match "that's no problem"; "guaranteed returns" must not
match "guaranteed no returns"; 绝对不会亏 must not match 绝对会亏.  A non-exact match is
kept only when the matched words carry the same negations and the same person words as
the phrase (:func:`same_meaning`).  And a phrase said under a negation ("I'm not saying
it's risk free", 不一定能赚) is not what the rule forbids: :func:`negated_before` tells the
engine, which then asks QA to check instead of recording a violation.

Pure functions over normalised text (:mod:`streams.matching.text`).
"""

from __future__ import annotations

import re
from collections import Counter

from streams.matching.text import is_cjk

# after normalisation "don't" is "don t": the lone "t" is the negation
_NEG_EN = frozenset(
    "no not never t nt cannot cant dont doesnt didnt wont wouldnt isnt arent wasnt werent shouldnt couldnt "
    "nobody nothing none neither nor without".split()
)
_PERSON_EN = frozenset("your yours my mine me i you we our us".split())
_NEG_ZH = frozenset("不没无非别未勿莫")
_WORD = re.compile(r"[a-z0-9]+")
NEGATION_WINDOW_WORDS = 2  # "I did not say ...": the negation sits right before the phrase
NEGATION_WINDOW_CHARS = 2  # 不一定能赚, 并不是保本


def _key_words(text: str) -> Counter[str]:
    keys: Counter[str] = Counter()
    for w in _WORD.findall(text):
        if w in _NEG_EN:
            keys["<neg>"] += 1
        elif w in _PERSON_EN:
            keys[w] += 1
    keys["<neg>"] += sum(1 for c in text if c in _NEG_ZH)
    return +keys  # drop zero counts


def same_meaning(phrase_norm: str, said_norm: str) -> bool:
    """True when the words said carry as many negations as the phrase and no negation or
    person word the phrase lacks.  (A token match's span starts at the phrase's first
    content word, so a leading "you" of "you can't lose" may lie outside it: missing
    person words are tolerated, extra or different ones are not.)"""
    phrase, said = _key_words(phrase_norm), _key_words(said_norm)
    return phrase["<neg>"] == said["<neg>"] and not (said - phrase)


def negated_before(text: str, start: int) -> bool:
    """True when a negation stands right before ``text[start:]`` (normalised text)."""
    before = text[:start].rstrip()
    if not before:
        return False
    if is_cjk(before[-1]):
        return any(c in _NEG_ZH for c in before[-NEGATION_WINDOW_CHARS:])
    words = _WORD.findall(before)[-NEGATION_WINDOW_WORDS:]
    return any(w in _NEG_EN for w in words)
