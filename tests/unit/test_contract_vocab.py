"""The one severity order (streams.contract.vocab) and what is built on it."""

from __future__ import annotations

import pytest

from streams.assist import risk
from streams.contract.vocab import SEVERITIES, severity_of_rank, severity_rank

pytestmark = pytest.mark.unit


def test_rank_follows_the_order_and_round_trips() -> None:
    assert [severity_rank(s) for s in SEVERITIES] == [1, 2, 3, 4]  # the QA store keeps these numbers
    assert severity_rank("") == severity_rank("bogus") == 0
    assert [severity_of_rank(severity_rank(s)) for s in SEVERITIES] == list(SEVERITIES)
    assert severity_of_rank(0) == severity_of_rank(9) == ""


def test_risk_weights_and_levels_cover_every_severity_in_order() -> None:
    weights = [risk.SEVERITY_WEIGHT[s] for s in SEVERITIES]
    assert weights == sorted(weights)
    assert [name for _, name in risk.LEVELS] == list(reversed(SEVERITIES))
    assert risk.level_of(100.0) == "critical" and risk.level_of(0.0) == "low"


def test_vocab_imports_nothing_of_ours() -> None:
    import ast
    from pathlib import Path

    import streams.contract.vocab as vocab

    tree = ast.parse(Path(vocab.__file__).read_text())
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert mods <= {"__future__", "typing"}
