"""Valence from the customer's words: an editable lexicon of complaint, anger, distress and
threat cues (Mandarin and English), reloadable like the knowledge base.

Voice prosody tells how activated a caller sounds, not whether they are unhappy: the words
carry that, and they transfer across voices, corpora and channels where prosody does not.
Matching uses one Aho-Corasick automaton over the normalised text (streams.matching.text), so a
Traditional-character transcript or odd punctuation still matches; an English cue must sit
on word boundaries ("sue" does not match "issue").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ahocorasick

from streams.matching.text import normalize
from streams.matching.versioned import FileFormatError, ReloadingFile, content_version, read_yaml

DEFAULT_LEXICON = Path(__file__).resolve().parents[1] / "data" / "valence.yaml"
CATEGORIES = ("complaint", "anger", "distress", "threat")
LANGS = ("zh", "en")


@dataclass(frozen=True, slots=True)
class Cue:
    term: str  # as written in the lexicon
    category: str
    weight: float
    start: int  # span in the original text
    end: int


class Lexicon:
    def __init__(self, entries: dict[str, tuple[str, tuple[str, float]]], version: str) -> None:
        """``entries``: normalised key -> (term as written, (category, weight))."""
        self.version = version
        self.size = len(entries)
        self._auto = ahocorasick.Automaton()
        for key, (term, cat_weight) in entries.items():
            self._auto.add_word(key, (key, term, cat_weight))
        if entries:
            self._auto.make_automaton()

    def scan(self, text: str) -> list[Cue]:
        """Cues in ``text``, left to right, overlapping matches reduced to the longest."""
        if not self.size or not text:
            return []
        norm = normalize(text)
        t = norm.text
        found: list[tuple[int, int, str, str, float]] = []
        for end, (key, term, (cat, weight)) in self._auto.iter(t):
            start = end - len(key) + 1
            if key.isascii() and not _on_word_boundaries(t, start, end + 1):
                continue
            found.append((start, end + 1, term, cat, weight))
        found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
        out: list[Cue] = []
        last_end = -1
        for start, end, term, cat, weight in found:
            if start < last_end:
                continue  # inside a longer cue already taken
            a, b = norm.orig_span(start, end)
            out.append(Cue(term, cat, weight, a, b))
            last_end = end
        return out


def _on_word_boundaries(t: str, start: int, end: int) -> bool:
    before = t[start - 1] if start > 0 else " "
    after = t[end] if end < len(t) else " "
    return not (before.isascii() and before.isalnum()) and not (after.isascii() and after.isalnum())


def load_lexicon(path: Path | str = DEFAULT_LEXICON) -> Lexicon:
    path = Path(path)
    data, raw = read_yaml(path)
    cats = data.get("categories")
    if not isinstance(cats, dict) or not cats:
        raise FileFormatError(f"{path}: 'categories' must be a mapping of {', '.join(CATEGORIES)}")
    entries: dict[str, tuple[str, tuple[str, float]]] = {}
    for cat, body in cats.items():
        if cat not in CATEGORIES:
            raise FileFormatError(f"{path}: unknown category {cat!r} (expected one of {', '.join(CATEGORIES)})")
        if not isinstance(body, dict):
            raise FileFormatError(f"{path}: category {cat} must be a mapping with weight, zh, en")
        weight = body.get("weight", 0.6)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or not 0.0 < float(weight) <= 1.0:
            raise FileFormatError(f"{path}: {cat}.weight must be a number in (0, 1], got {weight!r}")
        for lang in LANGS:
            terms = body.get(lang, [])
            if not isinstance(terms, list):
                raise FileFormatError(f"{path}: {cat}.{lang} must be a list of phrases")
            for term in terms:
                if not isinstance(term, str | int) or not str(term).strip():
                    raise FileFormatError(f"{path}: {cat}.{lang} has an empty or non-text phrase {term!r}")
                key = normalize(str(term)).text.strip()
                if key:
                    entries.setdefault(key, (str(term), (cat, float(weight))))
    return Lexicon(entries, content_version(str(data.get("version", "0")), raw))


def lexicon_source(path: Path | str = DEFAULT_LEXICON) -> ReloadingFile[Lexicon]:
    return ReloadingFile(path, load_lexicon)
