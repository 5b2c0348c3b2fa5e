"""Relevance calibration: the fitting maths, the KB index's calibrated confidence, and the
CLINC150 evaluation command on a tiny data file of the same layout."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from streams import cli
from streams.kb import calibration
from streams.kb.index import KBIndex
from streams.kb.model import load_kb
from streams.kb.source import DEFAULT_KB

pytestmark = pytest.mark.unit


def test_logistic_fit_is_calibrated_on_data_drawn_from_a_logistic_model() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(1.5 * x[:, 0] - 2.0 * x[:, 1] + 0.3)))
    y = (rng.random(4000) < p).astype(int)
    cal = calibration.fit(x.tolist(), y.tolist())
    assert cal.coef[0] == pytest.approx(1.5, abs=0.2) and cal.coef[1] == pytest.approx(-2.0, abs=0.2)
    probs = [cal.probability(r) for r in x.tolist()]
    rel = calibration.reliability(probs, y.tolist())
    assert rel.ece < 0.03
    assert sum(b["n"] for b in rel.bins) == 4000


def test_fit_refuses_one_class_and_weights_shift_the_prior() -> None:
    with pytest.raises(ValueError):
        calibration.fit([[0.1], [0.2]], [1, 1])
    feats, labels = [[0.0]] * 100, [1] * 50 + [0] * 50
    even = calibration.fit(feats, labels)
    heavy_neg = calibration.fit(feats, labels, weights=[1.0] * 50 + [3.0] * 50)
    assert even.probability([0.0]) == pytest.approx(0.5, abs=0.01)
    assert heavy_neg.probability([0.0]) == pytest.approx(0.25, abs=0.01)
    w = calibration.prior_weights(80, 20, 0.3)
    assert sum(w[80:]) / sum(w) == pytest.approx(0.3)


def test_split_keeps_a_question_in_every_entry() -> None:
    kept, held = calibration.split_questions({"a": ["1", "2", "3", "4", "5"], "b": ["x"], "c": ["y", "z"]},
                                             0.2, seed=1, max_heldout=100)
    assert all(kept[k] for k in kept)
    assert kept["b"] == ["x"] and len(kept["c"]) == 1 and len(kept["a"]) == 4
    assert {e for e, _ in held} == {"a", "c"}
    assert not set(kept["a"]) & {q for e, q in held if e == "a"}


@pytest.fixture(scope="module")
def index() -> KBIndex:
    return KBIndex(load_kb(DEFAULT_KB))


def test_bundled_kb_is_calibrated_and_deterministic(index: KBIndex) -> None:
    assert index.calibrator is not None
    assert index.calibrator.fitted_on["negatives"] > 100
    again = KBIndex(load_kb(DEFAULT_KB))
    text = "how do I report a car accident to my insurance"
    assert index.search(text)[0].score == again.search(text)[0].score


def test_confident_on_a_kb_question_silent_off_domain(index: KBIndex) -> None:
    min_score = index.kb.settings.min_score
    hit = index.search("my card was stolen yesterday, can you block it")[0]
    assert hit.entry.intent == "card_lost" and hit.score >= min_score
    assert hit.raw_score > 0
    for off in ("two weeks ago I got a car from your dealership and the service light came on",
                "can you tell me what time the pharmacy closes tonight",
                "我想问一下明天去动物园要不要带伞"):
        hits = index.search(off)
        assert not hits or hits[0].score < min_score, (off, hits[0].entry.id, hits[0].score)


@pytest.mark.parametrize(("follow_up", "before"), [
    ("and when will the new one arrive", "I lost my bank card this morning"),
    ("那新卡多久能寄到", "我的银行卡丢了"),
])
def test_a_question_across_two_segments_uses_the_context(index: KBIndex, follow_up: str, before: str) -> None:
    alone = index.search(follow_up)
    both = index.search(follow_up, context=before)
    assert both and both[0].entry.intent == "card_lost" and both[0].from_context
    assert not alone or alone[0].entry.intent != "card_lost" or alone[0].score < both[0].score
    # an utterance with its own topic keeps it
    own = index.search("how do I report a car accident", context=before)
    assert own[0].entry.intent == "claim_report" and not own[0].from_context


def _tiny_clinc(tmp_path: Path) -> Path:
    rng = random.Random(0)
    topics = {"balance": ["balance", "money left", "how much money"], "weather": ["weather", "rain", "sunny"],
              "timer": ["timer", "countdown", "alarm in minutes"], "pin": ["pin", "change my pin", "new pin"]}
    frames = ["what is the {}", "tell me the {}", "i need the {} now", "check {} please", "{} for me"]

    def make(n: int) -> list[list[str]]:
        return [[rng.choice(frames).format(rng.choice(v)), k] for k, v in topics.items() for _ in range(n)]

    oos = ["who won the football game", "recipe for pancakes", "book a flight to paris", "what is love",
           "play some jazz music", "how tall is mount everest"]
    data = {"train": make(20), "val": make(3), "test": make(5), "oos_train": [[t, "oos"] for t in oos],
            "oos_val": [[t, "oos"] for t in oos[:3]], "oos_test": [[t, "oos"] for t in oos[3:]]}
    (tmp_path / "data_full.json").write_text(json.dumps(data))
    return tmp_path


def test_kb_eval_command_reports_in_scope_oos_and_reliability(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kb-eval", "--clinc150", str(_tiny_clinc(tmp_path)), "--threshold", "0.5"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["kb"]["entries"] == 4 and r["test"]["in_scope"] == 20 and r["test"]["oos"] == 3
    assert r["test"]["top3"] >= r["test"]["top1"] > 0.5
    assert 0 <= r["test"]["oos_recall"] <= 1 and r["reliability"]["bins"]
    assert cli.main(["kb-eval", "--clinc150", str(tmp_path / "missing")]) == 2


def test_the_strict_protocol_chooses_the_threshold_on_validation_only(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from streams.kb import clinc

    directory = _tiny_clinc(tmp_path)
    r = clinc.evaluate(directory, select_on_val=True)
    chosen = r["selected_on_val"]["validation"]
    assert r["test"]["threshold"] == chosen["threshold"] and chosen["threshold"] in clinc.THRESHOLDS
    assert r["calibration"]["fitted_on"]  # and oos_val was not among the negatives:
    data = json.loads((directory / "data_full.json").read_text())
    data["test"], data["oos_test"] = data["test"][:4], data["oos_test"][:1]  # the test split changes...
    (directory / "data_full.json").write_text(json.dumps(data))
    again = clinc.evaluate(directory, select_on_val=True)
    assert again["selected_on_val"] == r["selected_on_val"]  # ...the choice does not
    assert cli.main(["kb-eval", "--clinc150", str(directory), "--select-on-val"]) == 0
    assert "selected_on_val" in json.loads(capsys.readouterr().out)


def test_agent_search_in_both_languages_returns_answer_link_and_confidence(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["kb-search", "退保", "现金价值", "-k", "2"]) == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rows[0]["intent"] == "cancel_policy" and rows[0]["language"] == "zh"
    assert rows[0]["answer"] and rows[0]["links"] and "退保" in rows[0]["why"]
    assert cli.main(["kb-search", "lost", "card"]) == 0
    top = json.loads(capsys.readouterr().out.splitlines()[0])
    assert top["intent"] == "card_lost" and top["language"] == "en" and 0 < top["score"] <= 1
