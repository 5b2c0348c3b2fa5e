"""The pages' one vocabulary file (static/js/vocab.js) says what the server says: a severity or a
role added on one side and not the other would be ranked or shown wrongly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assist_ui.auth import ROLES
from streams.contract.vocab import SEVERITIES

pytestmark = pytest.mark.unit

VOCAB_JS = Path(__file__).resolve().parents[2] / "assist_ui" / "static" / "js" / "vocab.js"


def _js_list(name: str) -> list[str]:
    match = re.search(rf"export const {name} = (\[[^\]]*\]);", VOCAB_JS.read_text(encoding="utf-8"))
    assert match, f"{name} not found in {VOCAB_JS.name}"
    return json.loads(match.group(1).replace("'", '"'))


def test_the_pages_rank_severities_as_the_contract_orders_them() -> None:
    assert _js_list("SEVERITIES") == list(reversed(SEVERITIES))  # the pages list the worst first


def test_the_pages_know_the_same_roles_as_the_server() -> None:
    assert sorted(_js_list("ROLES")) == sorted(ROLES)
