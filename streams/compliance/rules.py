"""The compliance rule file: schema, validation and loading.

See docs/streams.md for the format.  Three kinds of rule:

* ``forbidden`` -- a phrase that must not be said on a channel (agent mis-selling or
  abuse; customer escalation signals such as complaint / regulator / lawyer).
* ``required`` -- a phrase the agent must say before ``deadline_s`` of call time, or
  before the call ends (``deadline_s: end``).
* ``ordering`` -- when a trigger phrase is said, a prerequisite (phrases, or another
  ``required`` rule) must already have been said earlier in the call.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from streams.contract.vocab import Severity
from streams.matching.bilingual import LangList, LangText
from streams.matching.versioned import FileFormatError, content_version, read_yaml

Channel = Literal["agent", "customer", "any"]


class MatchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exact: bool = True
    pinyin: bool = True
    fuzzy: bool = True


class Prerequisite(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: str = ""  # id of a ``required`` rule whose phrases count as the prerequisite
    channel: Channel = "agent"
    phrases: LangList = LangList()


class AskIntent(BaseModel):
    """A ``required`` rule understood by intent: asking for any of ``items`` counts, whatever
    the wording -- a question cue within ``within_words`` words (English) or ``within_chars``
    characters (Mandarin) before or after the item ("what was your last name", "your date of
    birth, please", 您的保单号是多少)."""

    model_config = ConfigDict(extra="forbid")
    cues: LangList
    items: LangList
    within_words: int = Field(4, ge=0, le=20)
    within_chars: int = Field(6, ge=0, le=30)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    kind: Literal["forbidden", "required", "ordering"]
    severity: Severity
    channel: Channel = "agent"
    category: str = ""
    message: LangText
    phrases: LangList
    except_: LangList = Field(LangList(), alias="except")
    match: MatchOptions = MatchOptions()
    once_per_call: bool = False
    # required
    deadline_s: float | Literal["end"] | None = None
    min_call_s: float = 0.0
    asks: AskIntent | None = None
    # ordering
    requires: Prerequisite | None = None

    @field_validator("phrases")
    @classmethod
    def _some_phrases(cls, v: LangList) -> LangList:
        if not v.all():
            raise ValueError("needs at least one phrase (zh or en)")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> Rule:
        if self.kind == "required" and self.deadline_s is None:
            raise ValueError("a required rule needs deadline_s (seconds of call time, or 'end')")
        if self.kind != "required" and self.deadline_s is not None:
            raise ValueError("deadline_s only applies to required rules")
        if self.kind != "required" and self.asks is not None:
            raise ValueError("asks only applies to required rules")
        if self.kind == "ordering":
            if self.requires is None or not (self.requires.rule or self.requires.phrases.all()):
                raise ValueError("an ordering rule needs requires.rule or requires.phrases")
        elif self.requires is not None:
            raise ValueError("requires only applies to ordering rules")
        return self


class Defaults(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fuzzy_threshold_en: float = Field(90.0, ge=50, le=100)
    fuzzy_threshold_zh: float = Field(80.0, ge=50, le=100)
    fuzzy_min_chars_en: int = 10
    fuzzy_min_chars_zh: int = 4
    pinyin_min_chars: int = 2
    deadline_grace_s: float = 8.0
    fuzzy_violation_min_score: float = Field(0.95, ge=0, le=1)  # below: the alert is "check", not "violation"


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(min_length=1)
    defaults: Defaults = Defaults()
    rules: list[Rule]

    @model_validator(mode="after")
    def _refs(self) -> RuleFile:
        ids = [r.id for r in self.rules]
        dup = {i for i, n in Counter(ids).items() if n > 1}
        if dup:
            raise ValueError(f"duplicate rule id(s): {', '.join(sorted(dup))}")
        required = {r.id for r in self.rules if r.kind == "required"}
        for r in self.rules:
            if r.requires and r.requires.rule and r.requires.rule not in required:
                raise ValueError(f"rule {r.id}: requires.rule {r.requires.rule!r} is not a required rule")
        return self


@dataclass(frozen=True)
class RuleSet:
    version: str
    defaults: Defaults
    rules: tuple[Rule, ...]
    path: str = ""

    def by_id(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def parse_rules(data: dict, raw: bytes, path: str = "<rules>") -> RuleSet:
    try:
        rf = RuleFile.model_validate(data)
    except ValidationError as exc:
        raise FileFormatError(f"{path}: invalid rule file:\n{_describe(exc, data)}") from exc
    return RuleSet(content_version(rf.version, raw), rf.defaults, tuple(rf.rules), path)


def load_rules(path: Path | str) -> RuleSet:
    p = Path(path)
    data, raw = read_yaml(p)
    return parse_rules(data, raw, str(p))


def _describe(exc: ValidationError, data: dict) -> str:
    lines = []
    for err in exc.errors():
        loc = err["loc"]
        where = ".".join(str(x) for x in loc)
        # name the rule id as well as its index: authors look rules up by id
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            try:
                where = f"rules[{loc[1]}] (id={data['rules'][loc[1]].get('id', '?')})" + "".join(
                    f".{x}" for x in loc[2:]
                )
            except (KeyError, IndexError, AttributeError, TypeError):
                pass
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)
