"""Live bridge record handling and the QA sink's error handling, without services."""

from __future__ import annotations

import asyncio
import json

import pytest

from assist_ui.auth import User
from assist_ui.fanout import Hub
from assist_ui.kafka_bridge import LiveBridge
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics
from assist_ui.samples import sample_call
from assist_ui.sink import QaSink

pytestmark = pytest.mark.unit

KINDS = {"events": "event", "transcripts": "segment", "alerts": "alert", "suggestions": "suggestion",
         "assist_emotion": "emotion"}


def bridge() -> LiveBridge:
    state = LiveState()
    return LiveBridge(state, Hub(state), UiMetrics())


def test_a_replayed_call_builds_the_live_view():
    b = bridge()
    steps = sample_call("c1", "agent-1", "zh", t0=1000.0)
    for step in steps:
        if step.topic in KINDS:
            b.handle(KINDS[step.topic], step.record.to_bytes(), now=1000.0 + step.at)
    call = b.state.get("c1")
    finals = [s.record.text for s in steps if s.topic == "transcripts" and s.record.is_final]
    snap = call.snapshot()
    assert [s["text"] for s in snap["segments"]] == finals and all(s["is_final"] for s in snap["segments"])
    assert call.status == "ended" and call.agent_id == "agent-1"
    assert len(call.alerts) == 1 and len(call.suggestions) == 2 and call.emotion["customer"]["state"]
    # redelivering everything changes nothing
    before = call.version
    for step in steps:
        if step.topic in KINDS:
            assert not b.handle(KINDS[step.topic], step.record.to_bytes(), now=2000.0)
    assert call.version == before


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("segment", b"{not json"),
        ("segment", b"[1, 2]"),
        ("segment", None),
        ("segment", json.dumps({"call_id": "c", "channel": "agent", "segment_id": "s", "is_final": "yes",
                                "start": 0, "end": 1, "text": "x"}).encode()),
        ("segment", json.dumps({"call_id": "c", "channel": "agent"}).encode()),
        ("segment", json.dumps({"call_id": "", "channel": "agent", "segment_id": "s", "is_final": True,
                                "start": 0, "end": 1, "text": "x"}).encode()),
        ("alert", json.dumps({"call_id": "c", "alert_id": "a", "rule_id": "r", "rule_kind": "f", "severity": "high",
                              "channel": "agent", "message": "m", "v": 99}).encode()),
        ("event", json.dumps({"call_id": "c", "kind": "paused", "ts": 1.0}).encode()),
    ],
)
def test_malformed_records_are_skipped_and_counted(kind, value):
    b = bridge()
    assert b.handle(kind, value) is False
    assert b.metrics.records_skipped.labels("malformed")._value.get() == 1
    assert len(b.state) == 0 or kind == "event"


def test_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown live record kind"):
        bridge().handle("audio", b"{}")


def test_wall_rows_are_coalesced_and_evictions_announced():
    b = bridge()
    sup = b.hub.add(User("s", "S", "supervisor"))
    b.hub.subscribe_wall(sup)
    sup._queue.clear()
    for step in sample_call("c1", "agent-1", "en", t0=1000.0):
        if step.topic in KINDS:
            b.handle(KINDS[step.topic], step.record.to_bytes(), now=1000.0)
    assert sup.queued == 0  # nothing per record
    assert b.flush_wall() == 1
    msg = json.loads(sup._queue.popleft().text)
    assert [r["call_id"] for r in msg["rows"]] == ["c1"] and msg["rows"][0]["status"] == "ended"
    assert b.flush_wall() == 0  # nothing changed since
    assert b.evict(now=1000.0 + 3600) == ["c1"]
    b.flush_wall()
    assert json.loads(sup._queue.popleft().text)["removed"] == ["c1"]


class FlakyStore:
    """A store that fails a few times, like a database restarting."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[dict] = []

    async def put_call(self, summary: dict) -> str:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database restarting")
        self.calls.append(summary)
        return "inserted"


async def test_sink_retries_store_failures_and_skips_malformed_records():
    store = FlakyStore(failures=2)
    sink = QaSink(store, UiMetrics(), max_backoff_s=0.01)  # type: ignore[arg-type]
    stop = asyncio.Event()
    summary = sample_call("c1", "agent-1", "zh", t0=1000.0)[-1].record
    assert await sink.handle_until_stored(summary.to_bytes(), stop, "qa.calls[0]@7") == "inserted"
    assert len(store.calls) == 1 and sink.metrics.sink_calls.labels("retry")._value.get() == 2
    stored = store.calls[0]
    assert stored["call_id"] == "c1" and isinstance(stored["transcript"][0], dict)
    assert await sink.handle_until_stored(b'{"call_id": 1}', stop) == "malformed"
    assert await sink.handle_until_stored(b'{"agent_id": "x"}', stop) == "malformed"
    assert await sink.handle_until_stored(b'{"call_id": ""}', stop) == "malformed"
    assert len(store.calls) == 1
