from __future__ import annotations

import json

import pytest

from streams.contract.audio import AudioFrame
from streams.contract.codec import RecordDecodeError, decode
from streams.contract.records import (
    Alert,
    CallEvent,
    CallSummary,
    EmotionReading,
    EmotionState,
    Suggestion,
    TranscriptSegment,
    Word,
)
from streams.contract.topics import TOPIC_RECORDS

pytestmark = pytest.mark.unit

SEGMENT = TranscriptSegment(
    call_id="c1",
    channel="customer",
    segment_id="c1:customer:3",
    is_final=True,
    start=1.5,
    end=3.25,
    text="我要退保，你们这是保本保息吗",
    language="zh",
    words=[Word(start=1.5, end=2.0, text="我要", probability=0.9)],
    produced_at=1700000000.5,
)

SAMPLES = [
    CallEvent(call_id="c1", kind="started", ts=1.0, agent_id="a7", language="zh", encoding="mulaw", sample_rate=8000),
    SEGMENT,
    EmotionReading(
        call_id="c1", channel="customer", window_id="c1:customer:0", start=0, end=2.5,
        probs={"neutral": 0.1, "angry": 0.8, "sad": 0.05, "happy": 0.05}, arousal=0.8, state="agitated",
    ),
    EmotionState(call_id="c1", channel="customer", state="agitated", arousal=0.8, trend="rising"),
    Suggestion(call_id="c1", suggestion_id="s1", kind="kb", intent="cancel_policy", title="退保", text="..."),
    Alert(
        call_id="c1", alert_id="a1", rule_id="no-guarantee", rule_kind="forbidden", severity="high",
        channel="agent", message="guaranteed returns promised", evidence="保本保息",
    ),
]


@pytest.mark.parametrize("record", SAMPLES, ids=lambda r: type(r).__name__)
def test_round_trip(record) -> None:
    again = decode(type(record), record.to_bytes())
    assert again == record
    assert again.to_bytes() == record.to_bytes()


def test_nested_summary_round_trip() -> None:
    summary = CallSummary(call_id="c1", risk_score=72.5, transcript=[SEGMENT], alerts=[SAMPLES[-1]], reasons=["x"])
    again = decode(CallSummary, summary.to_bytes())
    assert again.transcript[0].words[0].text == "我要"
    assert isinstance(again.alerts[0], Alert)
    assert again == summary


def test_unicode_survives() -> None:
    assert decode(TranscriptSegment, SEGMENT.to_bytes()).text == "我要退保，你们这是保本保息吗"


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"call_id": "c"}', "missing field"),
        (None, "tombstone"),
    ],
)
def test_malformed_is_a_clear_error(raw, reason) -> None:
    with pytest.raises(RecordDecodeError, match=reason):
        decode(TranscriptSegment, raw)


def test_wrong_field_type_is_rejected() -> None:
    data = json.loads(SEGMENT.to_bytes())
    data["start"] = "soon"
    with pytest.raises(RecordDecodeError, match="start"):
        decode(TranscriptSegment, json.dumps(data))


def test_newer_schema_version_is_refused_not_misread() -> None:
    data = json.loads(SEGMENT.to_bytes())
    data["v"] = 99
    with pytest.raises(RecordDecodeError, match="newer"):
        decode(TranscriptSegment, json.dumps(data))


def test_unknown_fields_from_a_newer_minor_version_are_ignored() -> None:
    data = json.loads(SEGMENT.to_bytes())
    data["speaker_confidence"] = 0.7
    assert decode(TranscriptSegment, json.dumps(data)) == SEGMENT


def test_audio_frame_round_trip_keeps_payload_bytes() -> None:
    frame = AudioFrame("c1", "agent", 12, 2.4, "mulaw", 8000, bytes(range(256)) * 8, captured_at=5.0)
    again = AudioFrame.from_bytes(frame.to_bytes())
    assert again == frame
    assert again.duration == pytest.approx(0.256)
    assert len(frame.to_bytes()) < len(frame.payload) + 200  # no base64 on the wire


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda b: b"XX" + b[2:], "bad magic"),
        (lambda b: b[:6], "truncated"),
        (lambda b: b"", "bad magic"),
    ],
)
def test_audio_frame_garbage(mutate, reason) -> None:
    frame = AudioFrame("c1", "agent", 0, 0.0, "pcm16le", 16000, b"\x00\x01" * 100)
    with pytest.raises(RecordDecodeError, match=reason):
        AudioFrame.from_bytes(mutate(frame.to_bytes()))


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"channel": "supervisor"}, "unknown channel"),
        ({"encoding": "opus"}, "unknown encoding"),
        ({"sample_rate": 4000}, "sample rate"),
        ({"payload": b"\x00\x01\x02"}, "odd-length"),
        ({"call_id": ""}, "empty call_id"),
    ],
)
def test_audio_frame_validation(kwargs, reason) -> None:
    base = {"call_id": "c", "channel": "agent", "seq": 0, "start": 0.0, "encoding": "pcm16le",
            "sample_rate": 16000, "payload": b"\x00\x00" * 10}
    base.update(kwargs)
    with pytest.raises(RecordDecodeError, match=reason):
        AudioFrame.from_bytes(AudioFrame(**base).to_bytes())


def test_every_topic_has_a_record_type() -> None:
    assert set(TOPIC_RECORDS) == {"audio", "events", "transcripts", "emotion", "suggestions", "alerts",
                                  "assist_emotion", "qa_calls"}
