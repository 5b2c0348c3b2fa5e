"""The QA form file and the automatic fill."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from assist_ui.scorecard import Form, export_csv, fill, load_form

pytestmark = pytest.mark.unit


def test_shipped_form_loads_and_covers_the_issue_items() -> None:
    form = load_form()
    assert {"greeting", "identity_check", "disclosure", "empathy", "closing"} <= {i.id for i in form.items}
    assert form.max_score == 100


def test_bad_forms_are_refused() -> None:
    item = {"id": "x", "label": {"en": "X"}, "weight": 5, "source": "rules_absent", "rules": ["R"]}
    with pytest.raises(ValidationError):
        Form.model_validate({"version": "1", "items": [item, item]})  # duplicate ids
    with pytest.raises(ValidationError):
        Form.model_validate({"version": "1", "items": [dict(item, rules=[])]})  # filled by nothing
    with pytest.raises(ValidationError):
        Form.model_validate({"version": "1", "items": [dict(item, weight=0)]})


def test_fill_from_alerts_and_words_with_overrides() -> None:
    form = load_form()
    call = {"alerts": [{"rule_id": "RQ_GREETING", "category": "script"},
                       {"rule_id": "AG_RUDE", "category": "conduct"}],
            "transcript": [{"channel": "agent", "text": "I'm so sorry about that."},
                           {"channel": "customer", "text": "ok"}]}
    card = fill(form, call)
    by = {i["id"]: i for i in card["items"]}
    assert by["greeting"]["auto"] == 0 and by["conduct"]["auto"] == 0 and by["conduct"]["evidence"] == "AG_RUDE"
    assert by["empathy"]["auto"] == by["empathy"]["weight"] and by["closing"]["auto"] == by["closing"]["weight"]
    assert card["total"] == card["auto_total"] == 100 - 10 - 20
    over = fill(form, call, [{"item_id": "greeting", "score": 10, "note": "", "reviewer": "qa-1", "at": 1.0}])
    assert over["auto_total"] == card["auto_total"] and over["total"] == card["total"] + 10
    assert "rank,call_id,risk_score" in export_csv([])
