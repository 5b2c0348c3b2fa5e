"""The call summary's emotion arc: the customer's voice readings and words, phase by phase."""

from __future__ import annotations

from pathlib import Path

import pytest

from assist_ui import emotion_arc
from assist_ui.call_summary import summarise
from assist_ui.emotion_arc import customer_arc
from bench.summary_eval import evaluate
from streams.assist import customer_state
from streams.matching.valence import load_lexicon

pytestmark = pytest.mark.unit

DIALOGUES = Path(__file__).resolve().parents[1] / "data" / "dialogues"
CALM_EN = ["Hi, I'd like to check my policy.", "It's two two eight one.", "And the renewal date?",
           "Okay, that makes sense.", "Great.", "No, that's all, thanks."]


def _lines(texts: list[str], channel: str = "customer", lang: str = "en") -> list[dict]:
    return [{"segment_id": f"s{i}", "channel": channel, "start": 10.0 * i, "end": 10.0 * i + 4, "text": t,
             "language": lang} for i, t in enumerate(texts)]


def _voice(levels: list[tuple[float, str]], step: float = 10.0, offset: float = 3.0) -> list[dict]:
    """One customer reading per line: (arousal, stable state), at the line's end."""
    return [{"channel": "customer", "at": step * i + offset, "arousal": a, "state": s} for i, (a, s) in enumerate(levels)]


CALM, ANGRY = (0.3, "neutral"), (0.9, "agitated")


def test_thresholds_are_the_live_customer_states() -> None:
    assert emotion_arc.RAISED_AROUSAL == customer_state.RAISED_AROUSAL
    assert emotion_arc.UPSET_WORDS == customer_state.UPSET_WORDS


@pytest.mark.parametrize(("texts", "arc"), [
    (CALM_EN, "calm"),
    (CALM_EN[:4] + ["This is ridiculous, I want to make a complaint.", "I'm going to my lawyer."], "escalating"),
    (["This is ridiculous, you people are a scam.", "I'm furious."] + CALM_EN[2:], "de_escalated"),
    (CALM_EN[:2] + ["I'm fed up with this.", "Outrageous."] + CALM_EN[4:], "de_escalated"),  # upset in the middle only
    (["This is unacceptable."] + CALM_EN[1:5] + ["I will sue you."], "upset_throughout"),
])
def test_words_only(texts: list[str], arc: str) -> None:
    got = customer_arc(_lines(texts), [])
    assert got["arc"] == arc, got
    assert got["evidence"] == "words" and got["start"] is None and got["peak"] is None


def test_agent_words_do_not_count() -> None:
    lines = _lines(CALM_EN) + [dict(x, channel="agent", segment_id="a" + x["segment_id"])
                               for x in _lines(["I understand your complaint, this is unacceptable."] * 6)]
    assert customer_arc(lines, [])["arc"] == "calm"


@pytest.mark.parametrize(("levels", "arc"), [
    ([CALM] * 6, "calm"),
    ([CALM] * 3 + [ANGRY] * 3, "escalating"),
    ([ANGRY] * 3 + [CALM] * 3, "de_escalated"),
    ([ANGRY] * 6, "upset_throughout"),
    ([(0.9, "neutral")] * 6, "calm"),  # a raised voice alone is activation, not upset (as on the panel)
    ([CALM] * 8 + [ANGRY], "calm"),  # one agitated reading of the end phase's three is not half of them
])
def test_voice_only(levels: list[tuple[float, str]], arc: str) -> None:
    got = customer_arc([], _voice(levels))
    assert got["arc"] == arc, got
    assert got["evidence"] == "voice"


def test_voice_only_reports_start_peak_end_arousal() -> None:
    got = customer_arc([], _voice([CALM] * 3 + [ANGRY] * 3))
    assert (got["start"], got["peak"], got["end"]) == (0.3, 0.9, 0.9)
    assert got["reasons"] == ["middle: voice agitated", "end: voice agitated"]  # the middle is one calm, one agitated


def test_both_voice_and_words() -> None:
    lines = _lines(CALM_EN)
    # the words are calm, the voice is agitated at the end: escalating, and the reason says why
    got = customer_arc(lines, _voice([CALM] * 4 + [ANGRY] * 2))
    assert got["arc"] == "escalating" and got["evidence"] == "voice+words"
    assert got["reasons"] == ["end: voice agitated"]
    # an angry opening in words, the voice calm throughout: the words still count
    got = customer_arc(_lines(["I'm fed up, this is a scam."] + CALM_EN[1:]), _voice([CALM] * 6))
    assert got["arc"] == "de_escalated" and got["reasons"] == ["start: words fed up, scam"]


def test_a_weak_cue_counts_with_a_raised_voice(tmp_path: Path) -> None:
    path = tmp_path / "valence.yaml"
    path.write_text("version: 1\ncategories:\n  complaint:\n    weight: 0.3\n    en: [meh]\n", encoding="utf-8")
    lex = load_lexicon(path)
    lines = _lines(CALM_EN[:5] + ["Meh."])
    assert customer_arc(lines, [], lex)["arc"] == "calm"  # 0.3 alone is under UPSET_WORDS
    raised = _voice([CALM] * 4 + [(0.8, "neutral")] * 2)
    assert customer_arc(lines, raised, lex)["arc"] == "escalating"
    assert customer_arc(_lines(CALM_EN), raised, lex)["arc"] == "calm"  # raised without the cue


def test_a_reading_between_turns_belongs_to_the_earlier_phase() -> None:
    lines = _lines(CALM_EN)  # lines start 0, 10, ..., 50: phases 0-1, 2-3, 4-5
    voice = [{"channel": "customer", "at": 38.0, "arousal": 0.9, "state": "agitated"}]  # after line 3, before line 4
    got = customer_arc(lines, voice)
    assert got["arc"] == "de_escalated" and got["reasons"] == ["middle: voice agitated"]


def test_a_single_line_is_the_start_and_the_end() -> None:
    assert customer_arc(_lines(["This is outrageous, I will sue you."]), [])["arc"] == "upset_throughout"
    assert customer_arc(_lines(["Thanks, bye."]), [])["arc"] == "calm"
    assert customer_arc([], _voice([ANGRY]))["arc"] == "upset_throughout"
    assert customer_arc(_lines(["Thanks, bye."]), _voice([ANGRY] * 4, step=1.0))["arc"] == "upset_throughout"


def test_no_customer_evidence_is_unknown() -> None:
    got = customer_arc(_lines(CALM_EN, channel="agent"), [{"channel": "agent", "at": 1, "arousal": 0.9, "state": "agitated"}])
    assert got == {"arc": "unknown", "start": None, "peak": None, "end": None, "evidence": "none", "reasons": []}


def test_mandarin_words_and_reasons_in_the_calls_language() -> None:
    texts = ["我想问一下我的保单", "四三一二", "好的", "那什么时候到期", "你们这是坑人，我要投诉", "我要去银保监会"]
    call = {"language": "zh", "transcript": _lines(texts, lang="zh"), "alerts": [], "suggestions": [], "emotion": []}
    e = summarise(call)["emotion"]
    assert e["arc"] == "escalating" and e["label"] == "情绪升级"
    assert e["reasons"] == ["结尾: 用词 坑人, 投诉, 银保监"]


def test_lexicon_does_not_take_how_to_apply_for_distress() -> None:
    # 怎么办 matched 怎么办理 ("how do I apply for"): no longer a cue
    assert customer_arc(_lines(["保单质押贷款怎么办理", "好的", "谢谢"], lang="zh"), [])["arc"] == "calm"
    assert customer_arc(_lines(["好的", "我真的不想活了", "谢谢"], lang="zh"), [])["arc"] == "de_escalated"


def test_arc_accuracy_on_the_annotated_dialogues_holds() -> None:
    # measured 2026-12-03 (python -m bench.summary_eval): dev 22/27 = 0.815 (tuned there),
    # held-out 7/10 = 0.70 (scored once); the floor is the measure minus a margin of about one call
    dev, heldout = evaluate(DIALOGUES, "dev"), evaluate(DIALOGUES, "heldout")
    assert dev["arc_calls"] == 27 and heldout["arc_calls"] == 10
    assert dev["arc_accuracy"] >= 0.77, dev.get("arc_wrong")
    assert heldout["arc_accuracy"] >= 0.6, heldout.get("arc_wrong")
