"""Scorecards: a QA form defined in a file (assist_ui/data/scorecard.yaml), filled for every call.

Each item says how it is filled from what the system already knows about the call: the
compliance alerts (``rules_absent``: full marks unless a listed rule, or a rule of a listed
category, fired) or the agent's words (``phrases``). A reviewer may override an item; the
automatic score is always kept next to it, and the total is computed from both.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_FORM = Path(__file__).with_name("data") / "scorecard.yaml"


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: dict[str, str]
    weight: float = Field(gt=0, le=100)
    source: Literal["rules_absent", "phrases"]
    rules: list[str] = []
    categories: list[str] = []
    phrases: dict[str, list[str]] = {}

    @model_validator(mode="after")
    def _filled_by_something(self) -> Item:
        if self.source == "rules_absent" and not (self.rules or self.categories):
            raise ValueError(f"item {self.id}: rules_absent needs rules or categories")
        if self.source == "phrases" and not any(self.phrases.values()):
            raise ValueError(f"item {self.id}: phrases needs phrases")
        return self


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Form:
        ids = [i.id for i in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError("scorecard item ids must be unique")
        return self

    @property
    def max_score(self) -> float:
        return sum(i.weight for i in self.items)


def load_form(path: Path = DEFAULT_FORM) -> Form:
    return Form.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _auto(item: Item, call: Mapping[str, Any]) -> tuple[float, str]:
    """(score, evidence) for one item."""
    if item.source == "rules_absent":
        fired = [a for a in call.get("alerts") or []
                 if a.get("rule_id") in item.rules or (item.categories and a.get("category") in item.categories)]
        if fired:
            return 0.0, "; ".join(sorted({str(a.get("rule_id")) for a in fired}))
        return item.weight, ""
    agent = [s for s in call.get("transcript") or [] if s.get("channel") == "agent"]
    for s in agent:
        text = str(s.get("text", "")).lower()
        for lang_phrases in item.phrases.values():
            hit = next((p for p in lang_phrases if p.lower() in text), None)
            if hit:
                return item.weight, str(s.get("text", ""))
    return 0.0, ""


def fill(form: Form, call: Mapping[str, Any], overrides: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    by_item = {o["item_id"]: o for o in overrides}
    items: list[dict[str, Any]] = []
    for item in form.items:
        auto, evidence = _auto(item, call)
        o = by_item.get(item.id)
        items.append({
            "id": item.id, "label": item.label, "weight": item.weight, "source": item.source,
            "auto": auto, "evidence": evidence,
            "override": None if o is None else {k: o[k] for k in ("score", "note", "reviewer", "at")},
            "score": auto if o is None else float(o["score"]),
        })
    return {
        "form": form.version, "items": items, "max": form.max_score,
        "auto_total": round(sum(i["auto"] for i in items), 2),
        "total": round(sum(i["score"] for i in items), 2),
    }


CSV_COLUMNS = ["rank", "call_id", "risk_score", "risk_level", "max_severity", "alert_count", "agent_id", "queue",
               "language", "started_at", "duration", "score_auto", "score_final", "score_max", "overridden_items"]


def export_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, CSV_COLUMNS, extrasaction="ignore")
    w.writeheader()
    for row in rows:
        w.writerow(row)
    return buf.getvalue()
