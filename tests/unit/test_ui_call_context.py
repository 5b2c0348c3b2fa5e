"""Call context (CallEvent.context) for the panels: documented keys only, masked for non-agents."""

from __future__ import annotations

import pytest

from assist_ui.call_context import clean_context, public_context

pytestmark = pytest.mark.unit


def test_only_documented_keys_survive_as_trimmed_strings():
    raw = {"customer_name": "  张伟 ", "customer_tier": "白金", "account_ref": 6222020200112233, "ivr_intent": "",
           "password": "x", "policy_ref": True, "note": {"nested": 1}}
    assert clean_context(raw) == {"customer_name": "张伟", "customer_tier": "白金", "account_ref": "6222020200112233"}
    assert clean_context("not a dict") == {} and clean_context(None) == {}
    assert len(clean_context({"ivr_intent": "x" * 1000})["ivr_intent"]) == 120


def test_names_and_references_are_masked_for_other_viewers():
    ctx = {"customer_name": "Jane Doe", "customer_tier": "gold", "account_ref": "ACC-55512345",
           "policy_ref": "P12", "ivr_intent": "billing dispute"}
    assert public_context(ctx) == {"customer_name": "J*** D**", "customer_tier": "gold", "account_ref": "****2345",
                                   "policy_ref": "****", "ivr_intent": "billing dispute"}
    assert public_context({"customer_name": "张伟"})["customer_name"] == "张*"
    assert public_context({}) == {}
