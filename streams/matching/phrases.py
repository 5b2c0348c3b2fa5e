"""Phrase matching tolerant to ASR errors.

Four matchers, cheapest first, all returning spans in the *normalised* text (see
:mod:`streams.matching.text`) so callers can quote the original words as evidence:

* exact -- Aho-Corasick (pyahocorasick) over the normalised text; Latin phrases must
  sit on word boundaries ("sue" must not fire inside "issue").
* tokens -- English: stemmed content words in order with at most one extra content
  word between them ("guaranteed returns" ~ "guaranteed high return").
* pinyin -- Mandarin: Aho-Corasick over pinyin syllables, so an ASR homophone
  (保本包息 for 保本保息, 头诉 for 投诉) still matches.  Phrases of 3+ characters match
  toneless, folded syllables (zh/z, n/l, an/ang ...); 2-character phrases must match
  with tones, because two toneless syllables collide with ordinary words (好像是 ->
  "xiang shi" ~ 想死).
* fuzzy -- English: rapidfuzz on characters, the window snapped to whole words and
  checked with ``fuzz.ratio``.  Mandarin (4+ characters): a rapidfuzz prefilter on the
  pinyin string, then a syllable alignment allowing one near-homophone substitution
  (two for 8+ characters) -- one syllable edit away, e.g. "bao xi" vs "bao xin" -- and,
  for 5+ characters, one dropped or inserted syllable.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from streams.matching.meaning import same_meaning
from streams.matching.text import NormText, Syllable, has_cjk, normalize, pinyin_syllables, stem_en

_NEG_SYLLABLES = frozenset(("bu", "mei"))  # 不, 没 (folded pinyin)
_METHOD_RANK = {"exact": 3, "tokens": 2, "pinyin": 1, "fuzzy": 0}
_WORD = re.compile(r"[a-z0-9]+")
# words that carry no content for token matching (kept small on purpose: "not", "no"
# and "never" are content -- they flip meaning)
_STOP = frozenset("a an the to of for on in at is are be it this that your my our you we i will can".split())


@dataclass(frozen=True, slots=True)
class PhraseSpec:
    key: str  # the caller's label, e.g. a rule id
    phrase: str
    exact: bool = True
    pinyin: bool = True
    fuzzy: bool = True


@dataclass(frozen=True, slots=True)
class Match:
    key: str
    phrase: str
    start: int  # [start, end) in NormText.text
    end: int
    method: str  # exact | tokens | pinyin | fuzzy
    score: float  # 0..1


@dataclass(slots=True)
class _Compiled:
    spec: PhraseSpec
    norm: str
    cjk: bool
    syls: list[str]  # folded, toneless
    toned: list[str]
    stems: list[str]
    content: list[str]


def _is_ascii_alnum(c: str) -> bool:
    return c.isascii() and c.isalnum()


@lru_cache(maxsize=65536)
def _compile_phrase(phrase: str) -> tuple[str, bool, tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(normalised text, is CJK, folded syllables, toned syllables, English stems) of a phrase;
    cached: a KB reload recompiles the same 10^4 keywords, and rule files share phrases."""
    norm = normalize(phrase).text
    cjk = has_cjk(norm)
    mixed = cjk and any(_is_ascii_alnum(c) for c in norm)
    py = pinyin_syllables(normalize(norm)) if norm and cjk and not mixed else []
    stems = tuple(stem_en(w) for w in _WORD.findall(norm)) if norm and not cjk else ()
    return norm, cjk, tuple(x.folded for x in py), tuple(x.toned for x in py), stems


class PhraseMatcher:
    def __init__(
        self,
        specs: Iterable[PhraseSpec],
        *,
        fuzzy_threshold_en: float = 90.0,
        fuzzy_threshold_zh: float = 80.0,
        fuzzy_min_chars_en: int = 10,
        fuzzy_min_chars_zh: int = 4,
        pinyin_min_chars: int = 2,
    ) -> None:
        self.fuzzy_threshold_en = fuzzy_threshold_en
        self.fuzzy_threshold_zh = fuzzy_threshold_zh
        self._items: list[_Compiled] = []
        for spec in specs:
            norm, cjk, folded, toned, stems = _compile_phrase(spec.phrase)
            if not norm:
                continue
            self._items.append(_Compiled(
                spec, norm, cjk, list(folded), list(toned), list(stems), [s for s in stems if s not in _STOP],
            ))

        self._exact = ahocorasick.Automaton()
        by_norm: dict[str, list[int]] = {}
        for i, it in enumerate(self._items):
            if it.spec.exact:
                by_norm.setdefault(it.norm, []).append(i)
        for k, v in by_norm.items():
            self._exact.add_word(k, v)
        self._exact_ready = bool(by_norm)
        if self._exact_ready:
            self._exact.make_automaton()

        self._pinyin = ahocorasick.Automaton()
        by_py: dict[str, list[int]] = {}
        for i, it in enumerate(self._items):
            if it.spec.pinyin and it.syls and len(it.syls) >= pinyin_min_chars:
                # "t" keys match toned syllables, "f" keys folded ones (see module doc)
                key = "t|" + "|".join(it.toned) + "|" if len(it.syls) <= 2 else "f|" + "|".join(it.syls) + "|"
                by_py.setdefault(key, []).append(i)
        for k, v in by_py.items():
            self._pinyin.add_word(k[1:], (k[0], len(k) - 1, k.count("|") - 1, v))
        self._pinyin_ready = bool(by_py)
        if self._pinyin_ready:
            self._pinyin.make_automaton()

        self._tokens: dict[str, list[int]] = {}
        for i, it in enumerate(self._items):
            if it.stems:
                first = it.content[0] if len(it.content) >= 2 else it.stems[0]
                self._tokens.setdefault(first, []).append(i)

        self._fuzzy_en = [
            i for i, it in enumerate(self._items)
            if it.spec.fuzzy and not it.cjk and len(it.norm) >= fuzzy_min_chars_en
        ]
        self._fuzzy_zh = [
            i for i, it in enumerate(self._items)
            if it.spec.fuzzy and it.syls and len(it.syls) >= fuzzy_min_chars_zh
        ]
        self._fuzzy_en_choices = [self._items[i].norm for i in self._fuzzy_en]
        self._fuzzy_zh_choices = [" ".join(self._items[i].syls) for i in self._fuzzy_zh]

        self._norm_of = {it.spec.phrase: it.norm for it in self._items}

    def __len__(self) -> int:
        return len(self._items)

    # ------------------------------------------------------------------
    def find(self, norm: NormText) -> list[Match]:
        """All matches in ``norm``, at most one per key and overlapping region (best method wins)."""
        text = norm.text
        if not text:
            return []
        found: list[Match] = []
        found.extend(self._find_exact(text))
        words = [(stem_en(m.group(0)), m.start(), m.end()) for m in _WORD.finditer(text)]
        found.extend(self._find_tokens(words))
        syls = pinyin_syllables(norm) if self._pinyin_ready or self._fuzzy_zh else []
        if syls:
            found.extend(self._find_pinyin(syls))
            found.extend(self._find_fuzzy_zh(syls))
        found.extend(self._find_fuzzy_en(text))
        # forgiving matches must not flip the meaning (no/your, 不/一定): see streams.matching.meaning;
        # a pinyin match keeps every syllable, so a homophone of 不 still reads as a negation
        found = [m for m in found if m.method in ("exact", "pinyin")
                 or same_meaning(self._norm_of[m.phrase], text[m.start:m.end])]
        return _resolve(found)

    def _find_exact(self, text: str) -> list[Match]:
        if not self._exact_ready:
            return []
        out = []
        for end_idx, idxs in self._exact.iter(text):
            for i in idxs:
                it = self._items[i]
                start, end = end_idx - len(it.norm) + 1, end_idx + 1
                if _is_ascii_alnum(it.norm[0]) and start > 0 and _is_ascii_alnum(text[start - 1]):
                    continue
                if _is_ascii_alnum(it.norm[-1]) and end < len(text) and _is_ascii_alnum(text[end]):
                    continue
                out.append(Match(it.spec.key, it.spec.phrase, start, end, "exact", 1.0))
        return out

    def _find_tokens(self, words: list[tuple[str, int, int]]) -> list[Match]:
        if not self._tokens or not words:
            return []
        out = []
        content = [(k, w) for k, w in enumerate(words) if w[0] not in _STOP]
        for ci, (wi, (stem, _, _)) in enumerate(content):
            for i in self._tokens.get(stem, ()):
                it = self._items[i]
                if len(it.content) >= 2:
                    span = _match_content(it.content, content, ci)
                else:
                    span = _match_sequence(it.stems, words, wi)
                if span is not None:
                    out.append(Match(it.spec.key, it.spec.phrase, span[0], span[1], "tokens", 0.95))
        # single stop-word-led phrases ("you can't lose") start on a stop word: index by it
        for wi, (stem, _, _) in enumerate(words):
            if stem in _STOP:
                for i in self._tokens.get(stem, ()):
                    it = self._items[i]
                    if len(it.content) < 2:
                        span = _match_sequence(it.stems, words, wi)
                        if span is not None:
                            out.append(Match(it.spec.key, it.spec.phrase, span[0], span[1], "tokens", 0.95))
        return out

    def _find_pinyin(self, syls: list[Syllable]) -> list[Match]:
        if not self._pinyin_ready:
            return []
        out = []
        for kind in ("f", "t"):
            parts = [x.folded if kind == "f" else x.toned for x in syls]
            s = "|" + "|".join(parts) + "|"
            starts, pos = [], 1
            for x in parts:
                starts.append(pos)
                pos += len(x) + 1
            for end_idx, (k_kind, klen, n, idxs) in self._pinyin.iter(s):
                if k_kind != kind:
                    continue
                k = bisect.bisect_left(starts, end_idx - klen + 2)
                if k + n > len(syls):
                    continue
                a, b = syls[k].index, syls[k + n - 1].index
                if b - a != n - 1:  # syllables of separate CJK runs are not a phrase
                    continue
                for i in idxs:
                    it = self._items[i]
                    out.append(Match(it.spec.key, it.spec.phrase, a, b + 1, "pinyin", 0.9))
        return out

    def _find_fuzzy_zh(self, syls: list[Syllable]) -> list[Match]:
        if not self._fuzzy_zh:
            return []
        text_syls = [x.folded for x in syls]
        out = []
        hits = process.extract(" ".join(text_syls), self._fuzzy_zh_choices, scorer=fuzz.partial_ratio,
                               score_cutoff=self.fuzzy_threshold_zh, limit=None)
        for _, _, ci in hits:
            it = self._items[self._fuzzy_zh[ci]]
            best = _align_syllables(it.syls, text_syls)
            if best is None:
                continue
            start, length, edits = best
            a, b = syls[start].index, syls[start + length - 1].index
            if b - a == length - 1:
                out.append(Match(it.spec.key, it.spec.phrase, a, b + 1, "fuzzy", round(1 - edits / len(it.syls), 3)))
        return out

    def _find_fuzzy_en(self, text: str) -> list[Match]:
        if not self._fuzzy_en:
            return []
        out = []
        hits = process.extract(text, self._fuzzy_en_choices, scorer=fuzz.partial_ratio,
                               score_cutoff=self.fuzzy_threshold_en, limit=None)
        for choice, _, ci in hits:
            it = self._items[self._fuzzy_en[ci]]
            al = fuzz.partial_ratio_alignment(choice, text)
            if al is None:
                continue
            a, b = al.dest_start, al.dest_end
            # snap to whole words: a partial-word window is how "sue" hides in "issue"
            while a > 0 and _is_ascii_alnum(text[a - 1]):
                a -= 1
            while b < len(text) and _is_ascii_alnum(text[b]):
                b += 1
            while a < b and text[a] == " ":
                a += 1
            while b > a and text[b - 1] == " ":
                b -= 1
            ratio = fuzz.ratio(choice, text[a:b])
            if ratio >= self.fuzzy_threshold_en:
                out.append(Match(it.spec.key, it.spec.phrase, a, b, "fuzzy", ratio / 100))
        return out


def _align_syllables(phrase: list[str], text: list[str]) -> tuple[int, int, int] | None:
    """Best (start, length, edits) window of ``text`` that is a near-homophone of ``phrase``."""
    n = len(phrase)
    max_edits = 1 if n < 8 else 2
    lengths = (n, n - 1, n + 1) if n >= 5 else (n,)
    best: tuple[int, int, int] | None = None
    for length in lengths:
        for start in range(0, len(text) - length + 1):
            window = text[start : start + length]
            ops = Levenshtein.editops(phrase, window)
            if len(ops) > max_edits:
                continue
            if any(op.tag == "replace" and Levenshtein.distance(phrase[op.src_pos], window[op.dest_pos]) > 1
                   for op in ops):
                continue
            # a dropped/extra syllable only inside the phrase: at the edge it is a different
            # (shorter/longer) phrase -- 现金价值 is not 现金价值是
            if any(op.tag == "delete" and op.src_pos in (0, n - 1) for op in ops):
                continue
            if any(op.tag == "insert" and op.dest_pos in (0, length - 1) for op in ops):
                continue
            # a negation syllable dropped or added (even as a homophone: 部 for 不) flips the meaning
            if any((op.tag == "delete" and phrase[op.src_pos] in _NEG_SYLLABLES)
                   or (op.tag == "insert" and window[op.dest_pos] in _NEG_SYLLABLES) for op in ops):
                continue
            if best is None or len(ops) < best[2]:
                best = (start, length, len(ops))
    return best


def _match_content(phrase: list[str], content: list[tuple[int, tuple[str, int, int]]], ci: int):
    """phrase content stems in order from content[ci], at most one extra content word between."""
    j, k = 1, ci + 1
    while j < len(phrase):
        if k < len(content) and content[k][1][0] == phrase[j]:
            j, k = j + 1, k + 1
        elif k + 1 < len(content) and content[k + 1][1][0] == phrase[j]:
            j, k = j + 1, k + 2
        else:
            return None
    return content[ci][1][1], content[k - 1][1][2]


def _match_sequence(stems: list[str], words: list[tuple[str, int, int]], wi: int):
    if wi + len(stems) > len(words):
        return None
    if all(words[wi + j][0] == s for j, s in enumerate(stems)):
        return words[wi][1], words[wi + len(stems) - 1][2]
    return None


def _resolve(matches: list[Match]) -> list[Match]:
    """Per key, keep the best match of each overlapping group."""
    matches.sort(key=lambda m: (-_METHOD_RANK[m.method], -m.score, m.start))
    kept: list[Match] = []
    for m in matches:
        if any(k.key == m.key and k.start < m.end and m.start < k.end for k in kept):
            continue
        kept.append(m)
    kept.sort(key=lambda m: (m.start, m.end, m.key))
    return kept


def overlaps(a: Match, b: Match) -> bool:
    return a.start < b.end and b.start < a.end
