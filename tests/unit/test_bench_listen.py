"""Latency joins of `callassist bench`: Kafka records and agent-socket updates → observations."""

from __future__ import annotations

import pytest

from bench.listen import KafkaTap, UiTap
from streams.contract.records import Alert, Suggestion, TranscriptSegment, Word
from streams.platform.settings import CommonSettings

pytestmark = pytest.mark.unit


def seg(sid: str, rev: int, final: bool, audio_end_at: float, call: str = "c1") -> TranscriptSegment:
    # call time t was captured at epoch 100 + t; a partial covers the audio up to its end
    end = audio_end_at - 100.0 if audio_end_at > 0 else 1.0
    words = [Word(start=0.0, end=0.5, text="hello"), Word(start=0.5, end=1.0, text="there")] if final else []
    return TranscriptSegment(call_id=call, channel="agent", segment_id=sid, is_final=final, start=0.0, end=end,
                             text="hello there", revision=rev, produced_at=audio_end_at + 0.3,
                             audio_end_at=audio_end_at, words=words)


def by_kind(d, *kinds):  # type: ignore[no-untyped-def]
    return sorted((o.kind, o.key, round(o.latency_s, 3)) for o in d.items if o.kind in kinds)


def tap() -> KafkaTap:
    t = KafkaTap(CommonSettings(broker_url="127.0.0.1:1"), {"c1"})
    t.seen.transcripts += [
        (100.5, seg("s1", 0, False, 100.0)),
        (101.2, seg("s1", 1, False, 100.6)),
        (102.0, seg("s1", 2, True, 101.0)),
        (109.0, seg("s1", 2, True, 101.0)),  # redelivered final: counted once, at its first arrival
        (103.0, seg("s2", 0, False, 0.0)),  # no capture time: not measurable
    ]
    t.seen.alerts.append((102.1, Alert(call_id="c1", alert_id="a1", rule_id="R", rule_kind="forbidden",
                                       severity="high", channel="agent", message="m", source_produced_at=102.0)))
    t.seen.suggestions.append((102.3, Suggestion(call_id="c1", suggestion_id="g1", kind="kb", intent="i", title="t",
                                                 text="x", source_produced_at=0.0)))
    return t


def test_kafka_observations_measure_from_capture_and_trigger_times_and_drop_duplicates():
    d = tap().observations()
    got = by_kind(d, "alert", "final", "partial")
    assert got == [("alert", "a1", 0.1), ("final", "s1", 1.0), ("partial", "s1#0", 0.5), ("partial", "s1#1", 0.6)]
    # per word of the final: the word ending at 0.5 s (captured 100.5) was first shown by the partial
    # covering audio to 0.6 s (received 101.2); the last word only by the final (102.0)
    assert by_kind(d, "word") == [("word", "s1#w0", 0.7), ("word", "s1#w1", 1.0)]
    assert by_kind(d, "word_final") == [("word_final", "s1#w0", 1.5), ("word_final", "s1#w1", 1.0)]
    assert d.duplicates == 1


def test_ui_updates_are_joined_with_the_kafka_records_by_segment_revision_and_alert_id():
    ui = UiTap("ws://x/ws", "token")
    ui.updates = [
        (100.7, {"type": "update", "call_id": "c1", "kind": "segment",
                 "item": {"segment_id": "s1", "revision": 0, "is_final": False}}),
        (102.4, {"type": "update", "call_id": "c1", "kind": "segment",
                 "item": {"segment_id": "s1", "revision": 2, "is_final": True}}),
        (102.2, {"type": "update", "call_id": "c1", "kind": "alert", "item": {"alert_id": "a1"}}),
        (102.5, {"type": "update", "call_id": "c1", "kind": "suggestion", "item": {"suggestion_id": "g1"}}),
        (103.0, {"type": "update", "call_id": "c1", "kind": "segment",
                 "item": {"segment_id": "zz", "revision": 0, "is_final": False}}),  # never seen on Kafka
        (103.0, {"type": "update", "call_id": "other", "kind": "alert", "item": {"alert_id": "a9"}}),
        (103.0, {"type": "update", "call_id": "c1", "kind": "emotion", "item": {}}),
    ]
    d, unjoined = ui.observations(tap(), {"c1"})
    got = by_kind(d, "alert", "final", "partial")
    assert got == [("alert", "a1", 0.2), ("final", "s1", 1.4), ("partial", "s1#0", 0.7)]
    # the only partial on the panel covered no word of the final: both words waited for it (102.4)
    assert by_kind(d, "word") == [("word", "s1#w0", 1.9), ("word", "s1#w1", 1.4)]
    assert unjoined == 1  # the unknown segment; the suggestion without a trigger time is not measurable


def test_phrase_latency_runs_from_the_capture_of_the_phrase_end_to_its_first_alert():
    t = tap()  # call time t was captured at epoch 100 + t
    prov = Alert(call_id="c1", alert_id="a2", rule_id="R", rule_kind="forbidden", severity="low", channel="agent",
                 message="m", evidence_end=0.5, provisional=True, source_produced_at=100.9)
    t.seen.alerts += [(101.4, prov), (103.0, Alert(**{**prov.asdict(), "provisional": False}))]
    t.seen.suggestions.append((102.0, Suggestion(call_id="c1", suggestion_id="g2", kind="kb", intent="i", title="t",
                                                 text="x", evidence_end=0.8, source_produced_at=101.9)))
    d = t.observations()
    # the provisional alert is what the agent saw first; its confirmation (same id) is not a second one
    assert by_kind(d, "phrase_alert") == [("phrase_alert", "a2", 0.9)]
    assert by_kind(d, "phrase_suggestion") == [("phrase_suggestion", "g2", 1.2)]
    ui = UiTap("ws://x/ws", "token")
    ui.updates = [(101.6, {"type": "update", "call_id": "c1", "kind": "alert", "item": {"alert_id": "a2"}})]
    got, _ = ui.observations(t, {"c1"})
    assert by_kind(got, "phrase_alert") == [("phrase_alert", "a2", 1.1)]
