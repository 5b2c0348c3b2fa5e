"""Domain vocabulary for ASR biasing: the queue's vocabulary file, the KB and the rules.

Sources, in priority order (earlier terms win when the prompt has to be cut):
1. the vocabulary files (``streams/data/vocab/*.yaml``: ``terms`` per language).  A file that
   names its ``queue`` (or a list, ``queues``) serves the calls of those queues; one that names
   none serves every queue.  A call of queue Q is biased with the shared files plus Q's files;
   a call whose queue no file names (or that has none) gets every file, as before queues;
2. the knowledge base's ``keywords`` (``streams/data/kb.yaml``);
3. the phrases of ``required`` and ``ordering`` compliance rules (disclosures the agent must
   say, ``streams/data/rules.yaml``).  **Forbidden phrases are left out on purpose**: biasing
   the decoder or the correction towards "保证收益" would manufacture violations the agent
   never said; the compliance matcher already matches their homophones itself.

:class:`VocabularySource` reloads all of them when any file changes, like the KB
(:class:`streams.matching.versioned.ReloadingFile`: a broken edit keeps the previous version).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from streams.matching.versioned import FileFormatError, ReloadingFile, content_version, read_yaml

log = logging.getLogger(__name__)

LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Vocabulary:
    terms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # language -> terms, priority order
    prompt_lead: dict[str, str] = field(default_factory=dict)  # language -> lead text
    no_correct: frozenset[str] = frozenset()
    version: str = ""
    # queue -> that queue's vocabulary (shared files + the queue's own); this one is the default
    queues: dict[str, Vocabulary] = field(default_factory=dict)

    def for_queue(self, queue: str) -> Vocabulary:
        """The vocabulary of a call in ``queue``: its own, or this default one."""
        return self.queues.get(queue, self) if queue else self

    def terms_for(self, language: str) -> tuple[str, ...]:
        return self.terms.get(language.split("-")[0], ())

    def prompt(self, language: str, max_terms: int) -> str:
        """Decoder prompt text: the lead sentence and the first ``max_terms`` terms."""
        lang = language.split("-")[0]
        terms = self.terms_for(lang)[:max_terms]
        lead = self.prompt_lead.get(lang, "")
        if not terms:
            return lead
        sep = "，" if lang == "zh" else ", "
        end = "。" if lang == "zh" else "."
        return f"{lead}{' ' if lead and lang != 'zh' else ''}{sep.join(terms)}{end}"


def _strings(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise FileFormatError(f"{where}: expected a list of non-empty strings")
    return [v.strip() for v in value]


def _per_language(value: object, where: str) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FileFormatError(f"{where}: expected a mapping of language -> list")
    unknown = set(value) - set(LANGUAGES)
    if unknown:
        raise FileFormatError(f"{where}: unknown language(s) {sorted(unknown)}; use {LANGUAGES}")
    return {lang: _strings(v, f"{where}.{lang}") for lang, v in value.items()}


def _queues(data: dict, path: Path) -> tuple[str, ...]:
    """The queues a vocabulary file serves (``queue: X`` or ``queues: [X, Y]``); () = every queue."""
    one, many = data.get("queue"), data.get("queues")
    if one is not None and not (isinstance(one, str) and one.strip()):
        raise FileFormatError(f"{path}: queue: expected a queue name")
    names = ([one.strip()] if one else []) + _strings(many, f"{path}: queues")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class VocabFile:
    """One vocabulary file, read and checked."""

    path: Path
    terms: dict[str, list[str]]
    prompt_lead: dict[str, str]
    no_correct: list[str]
    version: str
    queues: tuple[str, ...]  # () = every queue


def read_vocab_file(path: Path) -> VocabFile:
    data, raw = read_yaml(path)
    lead = data.get("prompt") or {}
    if not isinstance(lead, dict) or not all(isinstance(v, str) for v in lead.values()):
        raise FileFormatError(f"{path}: prompt: expected a mapping of language -> text")
    terms = _per_language(data.get("terms"), f"{path}: terms")
    if not any(terms.values()):
        raise FileFormatError(f"{path}: no terms")
    return VocabFile(
        path,
        terms,
        dict(lead),
        _strings(data.get("no_correct"), f"{path}: no_correct"),
        content_version(str(data.get("version", "0")), raw),
        _queues(data, path),
    )


def kb_terms(path: Path) -> dict[str, list[str]]:
    data, _raw = read_yaml(path)
    out: dict[str, list[str]] = {}
    for entry in data.get("entries") or []:
        for lang, words in _per_language((entry or {}).get("keywords"), f"{path}: keywords").items():
            out.setdefault(lang, []).extend(words)
    return out


def rule_terms(path: Path) -> dict[str, list[str]]:
    """Phrases of required/ordering rules (never forbidden ones: see the module doc)."""
    data, _raw = read_yaml(path)
    out: dict[str, list[str]] = {}
    for rule in data.get("rules") or []:
        if not isinstance(rule, dict) or rule.get("kind") not in ("required", "ordering"):
            continue
        sources = [rule.get("phrases")]
        if rule.get("kind") == "ordering":
            sources.append((rule.get("requires") or {}).get("phrases"))
        for src in sources:
            for lang, words in _per_language(src, f"{path}: {rule.get('id')}").items():
                out.setdefault(lang, []).extend(words)
    return out


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def build_vocabulary(
    vocab_files: Sequence[Path], kb_file: Path | None = None, rules_file: Path | None = None
) -> Vocabulary:
    """The default vocabulary (every file) with, in ``queues``, one per queue a file names."""
    files = [read_vocab_file(path) for path in vocab_files]  # each file read once, merged per queue below
    extras = [kb_terms(kb_file) if kb_file else {}, rule_terms(rules_file) if rules_file else {}]
    queues = sorted({q for f in files for q in f.queues})
    per_queue = {q: _merge([f for f in files if not f.queues or q in f.queues], extras) for q in queues}
    return dataclasses.replace(_merge(files, extras), queues=per_queue)


def _merge(files: Sequence[VocabFile], extras: Sequence[dict[str, list[str]]]) -> Vocabulary:
    terms: dict[str, list[str]] = {}
    lead: dict[str, str] = {}
    no_correct: list[str] = []
    versions: list[str] = []
    for f in files:
        for lang, words in f.terms.items():
            terms.setdefault(lang, []).extend(words)
        for lang, text in f.prompt_lead.items():
            lead.setdefault(lang, text)
        no_correct.extend(f.no_correct)
        versions.append(f"{f.path.stem}@{f.version}")
    for extra in extras:
        for lang, words in extra.items():
            terms.setdefault(lang, []).extend(words)
    return Vocabulary(
        terms={lang: _unique(words) for lang, words in terms.items()},
        prompt_lead=lead,
        no_correct=frozenset(no_correct),
        version=",".join(versions),
    )


class VocabularySource:
    """The vocabulary built from files, rebuilt when any of them changes."""

    def __init__(self, vocab_files: Sequence[Path], kb_file: Path | None, rules_file: Path | None) -> None:
        self._args = (list(vocab_files), kb_file, rules_file)
        self._files = [*vocab_files, *(p for p in (kb_file, rules_file) if p is not None)]
        self._current = build_vocabulary(*self._args)  # the first build must succeed (clear error)
        # One ReloadingFile per file only to notice changes; the vocabulary is built from all.
        self._watch = [ReloadingFile(p, lambda path: path.stat().st_mtime_ns) for p in self._files]
        self.last_error = ""

    @property
    def current(self) -> Vocabulary:
        return self._current

    def maybe_reload(self) -> bool:
        """Rebuild when a file changed; a broken edit keeps the previous vocabulary."""
        changed = [w.maybe_reload() for w in self._watch]
        if not any(changed):
            return False
        try:
            self._current = build_vocabulary(*self._args)
        except FileFormatError as exc:
            self.last_error = str(exc)
            log.error("keeping the previous ASR vocabulary: %s", exc)
            return False
        log.info("ASR vocabulary reloaded: %s", self._current.version)
        return True
