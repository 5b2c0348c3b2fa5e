"""The knowledge-base file: schema, validation, loading.  See docs/streams.md for the format."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from streams.kb.strategies import StrategyDef
from streams.matching.bilingual import LangList, LangText
from streams.matching.versioned import FileFormatError, content_version, read_yaml


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    intent: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: LangText
    questions: LangList
    keywords: LangList = LangList()
    answer: LangText
    links: list[str] = []
    tags: list[str] = []
    # a keyword said under a negation ("I have no complaints", 没有投诉) is no evidence for this
    # entry: for entries whose keyword names the caller's act (complaining).  Off by default:
    # "is it not covered?" is still a coverage question
    denied_keywords_count: bool = True

    @model_validator(mode="after")
    def _content(self) -> Entry:
        if not self.questions.all():
            raise ValueError("needs at least one trigger question (zh or en)")
        if not (self.answer.zh or self.answer.en):
            raise ValueError("needs an answer (zh or en)")
        return self


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_score: float = Field(0.5, ge=0.0, le=1.0, description="calibrated P(right) needed to suggest")
    offdomain_prior: float = Field(0.3, ge=0.0, lt=1.0,
                                   description="share of caller utterances the KB has no answer for (calibration)")
    channels: list[str] = ["customer"]
    keyword_weight: float = Field(0.45, ge=0.0, le=1.0)
    repeat_after_s: float = Field(0.0, ge=0.0, description="0: an entry is suggested once per call")


class KBFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1)
    settings: Settings = Settings()
    entries: list[Entry] = Field(min_length=1)
    strategies: list[StrategyDef] = []
    agitation_cues: LangList = LangList()

    @model_validator(mode="after")
    def _unique(self) -> KBFile:
        for what, ids in (("entry", [e.id for e in self.entries]), ("strategy", [s.id for s in self.strategies])):
            dup = sorted(i for i, n in Counter(ids).items() if n > 1)  # linear: KBs have 10^4+ entries
            if dup:
                raise ValueError(f"duplicate {what} id(s): {', '.join(dup)}")
        return self


@dataclass(frozen=True)
class KnowledgeBase:
    version: str
    settings: Settings
    entries: tuple[Entry, ...]
    strategies: tuple[StrategyDef, ...]
    agitation_cues: LangList
    path: str = ""

    @property
    def intents(self) -> list[str]:
        return sorted({e.intent for e in self.entries})


def _validate_entries(data: dict) -> tuple[dict, list[dict]]:
    """Entries validated one at a time: one pydantic call over 10^4 entries holds the GIL for
    ~0.5 s, which would pause the worker's event loop during a reload in a background thread."""
    raw_entries = data.get("entries")
    if not isinstance(raw_entries, list):
        return data, []
    entries: list[Any] = []
    errors: list[dict] = []
    for i, item in enumerate(raw_entries):
        try:
            entries.append(Entry.model_validate(item))
        except ValidationError as exc:
            errors += [dict(err, loc=("entries", i, *err["loc"])) for err in exc.errors()]
            entries.append(item)
    return {**data, "entries": entries}, errors


def parse_kb(data: dict, raw: bytes, path: str = "<kb>") -> KnowledgeBase:
    checked, errors = _validate_entries(data)
    f = None
    if not errors:
        try:
            f = KBFile.model_validate(checked)
        except ValidationError as exc:
            errors = [dict(e) for e in exc.errors()]
    if f is None:
        lines = []
        for err in errors:
            loc = err["loc"]
            where = ".".join(str(x) for x in loc)
            if len(loc) >= 2 and loc[0] in ("entries", "strategies") and isinstance(loc[1], int):
                try:
                    ident = data[loc[0]][loc[1]].get("id", "?")
                    where = f"{loc[0]}[{loc[1]}] (id={ident})" + "".join(f".{x}" for x in loc[2:])
                except (KeyError, IndexError, AttributeError, TypeError):
                    pass
            lines.append(f"  {where}: {err['msg']}")
        raise FileFormatError(f"{path}: invalid knowledge base:\n" + "\n".join(lines))
    return KnowledgeBase(
        content_version(f.version, raw), f.settings, tuple(f.entries), tuple(f.strategies), f.agitation_cues, path
    )


def load_kb(path: Path | str) -> KnowledgeBase:
    p = Path(path)
    data, raw = read_yaml(p)
    return parse_kb(data, raw, str(p))
