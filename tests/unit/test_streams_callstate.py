"""Per-call state: dedupe, emotion trend, (de)serialisation for the Faust table."""

from __future__ import annotations

import json

import pytest

from streams.assist.callstate import CallState, EmotionPoint
from streams.matching.segment import Segment

pytestmark = pytest.mark.unit


def _emo(n: int, arousal: float, state: str = "neutral") -> EmotionPoint:
    return EmotionPoint(f"c:customer:{n}", "customer", 2.0 * n, 2.0 * n + 2, state, arousal)


def test_duplicate_segment_is_ignored() -> None:
    st = CallState("c")
    s = Segment("a", "agent", 0.0, 2.0, "hello", "en")
    assert st.add_segment(s) is True
    assert st.add_segment(s) is False
    assert len(st.segments) == 1 and st.call_time == 2.0 and st.language == "en"


def test_duplicate_emotion_window_is_ignored_and_trend_follows_arousal() -> None:
    st = CallState("c")
    trends = [getattr(st.add_emotion(_emo(i, a)), "trend", None) for i, a in enumerate([0.2, 0.2, 0.25, 0.5, 0.7, 0.8])]
    assert trends[0] == "steady" and trends[-1] == "rising"
    assert st.add_emotion(_emo(5, 0.8)) is None
    falling = [getattr(st.add_emotion(_emo(10 + i, a)), "trend", None) for i, a in enumerate([0.5, 0.3, 0.2, 0.1])]
    assert falling[-1] == "falling"


def test_alert_and_suggestion_dedupe() -> None:
    st = CallState("c")
    assert st.add_alert({"alert_id": "R:s1"}) and not st.add_alert({"alert_id": "R:s1"})
    assert st.add_suggestion("kb:x", {"id": 1}) and not st.add_suggestion("kb:x", {"id": 2})
    assert len(st.alerts) == 1 and len(st.suggestions) == 1


def test_round_trip_through_json_keeps_dedupe_memory() -> None:
    st = CallState("c", agent_id="a7")
    st.add_segment(Segment("s1", "customer", 0, 1, "我要退保", "zh"))
    st.add_emotion(_emo(1, 0.9, "angry"))
    st.add_alert({"alert_id": "R:s1"})
    st.compliance.done = ["HELLO"]
    back = CallState.from_dict(json.loads(json.dumps(st.to_dict())))
    assert back == st
    assert back.add_segment(Segment("s1", "customer", 0, 1, "我要退保")) is False
    assert back.add_emotion(_emo(1, 0.9, "angry")) is None


def test_from_dict_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        CallState.from_dict({"no": "call id"})


def test_span_times_from_words_or_characters() -> None:
    s = Segment("s", "agent", 10.0, 14.0, "abcd")
    assert s.time_of(2, 4) == (12.0, 14.0)


def test_dedup_memory_is_bounded_and_still_catches_recent_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.assist.callstate as callstate

    monkeypatch.setattr(callstate, "MAX_SEEN_IDS", 10)
    st = CallState("c")
    for i in range(50):
        assert st.add_segment(Segment(f"s{i}", "agent", i, i + 1.0, "x"))
    assert len(st.seen_segments) == 10
    # a retry of a recent record is still caught, also after the table round trip
    st = CallState.from_dict(json.loads(json.dumps(st.to_dict())))
    assert st.add_segment(Segment("s49", "agent", 49, 50.0, "x")) is False
    assert list(st.seen_segments)[0] == "s40"  # the oldest are forgotten first


def test_reads_the_table_format_the_untyped_state_wrote() -> None:
    """A worker upgraded mid-call reads the dict an older one stored (same keys, plain dicts)."""
    old = {
        "call_id": "c", "segments": [{"segment_id": "s1", "channel": "agent", "start": 0.0, "end": 1.0,
                                      "text": "hi", "language": "en"}],
        "seen_segments": ["s1"], "seen_windows": [],
        "compliance": {"satisfied": {"HELLO": 0.5}, "done": ["HELLO"], "fired": {"AG_X": 2}},
        "strategy": {"fired": ["calm"], "suppressed": ["cancel"], "cue_at": 3.0, "cue_text": "投诉"},
        "valence": {"cues": [{"at": 3.0, "term": "投诉", "category": "complaint", "weight": 0.6}]},
        "partials": {"s2": {"stable": "保本", "channel": "agent", "alerts": ["AG_X:s2"]}},
        "v": 1,
    }
    st = CallState.from_dict(old)
    assert st.compliance.fired == {"AG_X": 2} and st.strategy.cue_text == "投诉"
    assert st.valence.cues[0].term == "投诉" and st.partials["s2"].alerts == ["AG_X:s2"]
    assert st.to_dict() == {**CallState("c").to_dict(), **old}
    # an empty engine memory (a call stored before the engine first ran) is fine too
    fresh = CallState.from_dict({"call_id": "c", "compliance": {}, "strategy": {}, "valence": {}})
    assert fresh == CallState("c")
