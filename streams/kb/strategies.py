"""The schema of the KB file's ``strategies:`` section (what an editor writes); the evaluator that
decides when one fires is :mod:`streams.assist.strategy`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from streams.matching.bilingual import LangText


class When(BaseModel):
    model_config = ConfigDict(extra="forbid")
    emotion: list[str] = []  # customer states, e.g. [angry]; empty = any
    min_arousal: float = Field(0.0, ge=0.0, le=1.0)
    trend: list[str] = []  # e.g. [rising]; empty = any
    intents: list[str] = []  # any of these intents recently recognised; empty = any
    # a strategy tells the agent how to treat the person: it needs strong evidence, stronger than
    # a suggested answer (no "is anyone hurt?" on a polite question that vaguely resembles a claim)
    min_intent_score: float = Field(0.75, ge=0.0, le=1.0)
    alerts: list[str] = []  # any of these rule ids fired; empty = any


class StrategyDef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    priority: int = 0
    when: When
    title: LangText
    text: LangText
    suppress_intents: list[str] = []
    skip_if_fired: list[str] = []  # a more specific strategy already covered this call
    links: list[str] = []
