"""Valence from the customer's words: the lexicon file, matching, reload, fusion with the voice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.assist.callstate import EmotionMark
from streams.assist.customer_state import fuse, note_cues
from streams.assist.memory import ValenceMemory
from streams.matching.valence import DEFAULT_LEXICON, lexicon_source, load_lexicon
from streams.matching.versioned import FileFormatError

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def lexicon():  # type: ignore[no-untyped-def]
    return load_lexicon()


def test_mandarin_and_english_cues_are_found_with_their_spans(lexicon) -> None:  # type: ignore[no-untyped-def]
    text = "我要投訴你們，再不處理我就打12378！"  # Traditional characters, as Whisper often writes
    cues = lexicon.scan(text)
    assert [(c.term, c.category) for c in cues] == [("投诉", "complaint"), ("12378", "threat")]
    assert [text[c.start : c.end] for c in cues] == ["投訴", "12378"]
    en = lexicon.scan("I'll call my LAWYER and cancel the policy.")
    assert [c.term for c in en] == ["lawyer", "cancel"]


def test_english_cues_match_whole_words_only(lexicon) -> None:  # type: ignore[no-untyped-def]
    assert lexicon.scan("there is an issue with the tissue, sued") == []
    assert [c.term for c in lexicon.scan("I will sue you")] == ["sue"]


def test_longest_overlapping_cue_wins(lexicon) -> None:  # type: ignore[no-untyped-def]
    assert [c.term for c in lexicon.scan("I am sick and tired of this")] == ["sick and tired"]


def test_calm_service_talk_has_no_cues(lexicon) -> None:  # type: ignore[no-untyped-def]
    for text in ("您好，请问有什么可以帮您？", "Could we schedule the repair for Tuesday morning?", "好的，谢谢"):
        assert lexicon.scan(text) == []


def test_bad_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    p = tmp_path / "v.yaml"
    p.write_text("version: 1\ncategories:\n  joy:\n    zh: [开心]\n")
    with pytest.raises(FileFormatError, match="unknown category"):
        load_lexicon(p)
    p.write_text("version: 1\ncategories:\n  anger:\n    weight: 3\n    en: [mad]\n")
    with pytest.raises(FileFormatError, match="weight"):
        load_lexicon(p)
    p.write_text("version: 1\ncategories:\n  anger:\n    en: mad\n")
    with pytest.raises(FileFormatError, match="list"):
        load_lexicon(p)


def test_edits_reload_and_a_broken_edit_keeps_the_old_version(tmp_path: Path) -> None:
    p = tmp_path / "v.yaml"
    p.write_text(DEFAULT_LEXICON.read_text(encoding="utf-8"), encoding="utf-8")
    src = lexicon_source(p)
    assert src.current.scan("我要找媒体") != []
    assert src.current.scan("this is bananas") == []
    p.write_text("version: 2\ncategories:\n  anger:\n    en: [bananas]\n")
    os.utime(p, ns=(1, 10**18))
    assert src.maybe_reload() and [c.term for c in src.current.scan("this is bananas")] == ["bananas"]
    p.write_text("version: 3\ncategories: [not, a, mapping]\n")
    os.utime(p, ns=(1, 2 * 10**18))
    assert not src.maybe_reload() and src.failed_reloads == 1
    assert [c.term for c in src.current.scan("this is bananas")] == ["bananas"]


def test_fusion_names_its_reasons() -> None:
    valence = ValenceMemory()
    assert fuse(None, valence, 10.0) == {"customer_state": "neutral", "valence": 0.0, "reasons": []}
    note_cues(valence, 12.0, [("投诉", "complaint", 0.6), ("12378", "threat", 1.0)])
    raised = EmotionMark("customer", 0.0, "neutral", 0.8)
    out = fuse(raised, valence, 13.0)
    assert out["customer_state"] == "agitated"
    assert out["reasons"] == ["voice raised", "words: 投诉, 12378"]
    assert out["valence"] < 0


def test_words_alone_make_upset_and_are_forgotten_after_a_minute() -> None:
    valence = ValenceMemory()
    note_cues(valence, 5.0, [("cancel", "complaint", 0.6)])
    calm = EmotionMark("customer", 0.0, "neutral", 0.2)
    assert fuse(calm, valence, 6.0)["customer_state"] == "upset"
    assert fuse(calm, valence, 70.0) == {"customer_state": "neutral", "valence": 0.0, "reasons": []}


def test_voice_alone_never_claims_more_than_it_carries() -> None:
    assert fuse(EmotionMark("customer", 0.0, "neutral", 0.9), ValenceMemory(), 1.0)["customer_state"] == "raised"
    assert fuse(EmotionMark("customer", 0.0, "agitated", 0.3), ValenceMemory(), 1.0)["customer_state"] == "raised"
    assert fuse(EmotionMark("customer", 0.0, "agitated", 0.8), ValenceMemory(), 1.0)["customer_state"] == "agitated"
