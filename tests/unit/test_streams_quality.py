"""Quality floor on the committed annotated set (tests/data/dialogues).

The numbers themselves are measured and reported by ``bench/streams_stage.py quality``;
this test fails when a change to the matchers, the KB or the rules drops them below the
floor, so a regression cannot slip in unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.assist.assistant import Assistant
from streams.assist.check import evaluate_dir

pytestmark = pytest.mark.unit

DIALOGUES = Path(__file__).resolve().parents[1] / "data" / "dialogues"


@pytest.fixture(scope="module")
def results() -> dict[str, dict]:
    a = Assistant.from_files()
    return {split: evaluate_dir(a, DIALOGUES, split) for split in ("dev", "heldout")}


def test_alert_precision_and_recall(results: dict[str, dict]) -> None:
    for split, r in results.items():
        assert r["alerts"]["gold"] >= 10, split
        assert r["alerts"]["precision"] >= 0.9, (split, r["alerts"]["false_positives"])
        assert r["alerts"]["recall"] >= 0.9, (split, r["alerts"]["false_negatives"])


def test_kb_top3_and_false_suggestions(results: dict[str, dict]) -> None:
    assert results["dev"]["kb"]["top3"] >= 0.9, results["dev"]["kb"]["top3_misses"]
    assert results["heldout"]["kb"]["top3"] >= 0.75, results["heldout"]["kb"]["top3_misses"]
    for r in results.values():
        assert r["kb"]["false_suggestion_rate"] <= 0.1
        assert r["kb"]["no_suggest_violations"] == 0


def test_strategies(results: dict[str, dict]) -> None:
    assert results["dev"]["strategies"]["recall"] >= 0.9
    assert results["heldout"]["strategies"]["recall"] >= 0.5
