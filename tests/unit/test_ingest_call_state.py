"""Call context and call states through the sans-I/O ingest core (feed messages, no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.ingest.admission import CallRegistry
from pipeline.ingest.outputs import Close, Reply
from pipeline.ingest.protocol import IngestSession
from streams.contract.audio import AudioFrame
from streams.contract.codec import decode
from streams.contract.records import CallEvent

pytestmark = pytest.mark.unit

TOKEN = "s3cret"
CONTEXT = {"customer_name": "张三", "customer_tier": "gold", "policy_ref": "P-2024-778812", "ivr_intent": "claim"}


def session() -> IngestSession:
    t = iter(range(1_000_000))
    return IngestSession(registry=CallRegistry(), tokens=[TOKEN], clock=lambda: 1000.0 + next(t) * 0.01)


def open_msg(**over: Any) -> str:
    msg: dict[str, Any] = {
        "type": "open",
        "call_id": "call-1",
        "agent_id": "a7",
        "format": {"encoding": "pcm16le", "sample_rate": 8000},
        "token": TOKEN,
    }
    return json.dumps({**msg, **over})


def twilio_start(**params: str) -> str:
    start = {
        "callSid": "CA9f3",
        "streamSid": "MZ1",
        "tracks": ["inbound", "outbound"],
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        "customParameters": {"token": TOKEN, "agent_id": "a7", **params},
    }
    return json.dumps({"event": "start", "streamSid": "MZ1", "start": start})


def events(outs: list) -> list[CallEvent]:
    return [o for o in outs if isinstance(o, CallEvent)]


def errors(outs: list) -> list[tuple[str, bool]]:
    return [(o.error, o.message["fatal"]) for o in outs if isinstance(o, Reply) and o.error]


def roundtrip(ev: CallEvent) -> CallEvent:
    return decode(CallEvent, ev.to_bytes())  # the strict wire check every consumer applies


# -- context -----------------------------------------------------------------------
def test_native_open_context_goes_on_the_started_event_only() -> None:
    s = session()
    outs = s.receive_text(open_msg(context={**CONTEXT, "account_ref": "  ", "customer_tier": " gold "}))
    assert errors(outs) == []
    (started,) = events(outs)
    assert roundtrip(started).context == CONTEXT  # blank values dropped, values trimmed
    (hold,) = events(s.receive_text('{"type": "state", "kind": "hold"}'))
    assert hold.context == {}
    (ended,) = events(s.receive_text('{"type": "close"}'))
    assert ended.context == {}


@pytest.mark.parametrize(
    ("context", "text"),
    [
        ({"customer_name": "Jane", "ssn": "123"}, "unknown context key(s) ['ssn']"),
        ({"customer_tier": 3}, "customer_tier must be a string"),
        ({"customer_name": "x" * 121}, "at most 120"),
        (["customer_name"], "must be an object"),
    ],
)
def test_bad_context_is_a_clear_error_and_the_call_goes_on(context: Any, text: str) -> None:
    s = session()
    outs = s.receive_text(open_msg(context=context))
    assert errors(outs) == [("bad_context", False)]
    reply = next(o for o in outs if isinstance(o, Reply) and o.error)
    assert text in reply.message["message"] and "goes on without context" in reply.message["message"]
    (started,) = events(outs)
    assert started.kind == "started" and started.context == {}
    assert not [o for o in outs if isinstance(o, Close)]
    frames = [o for o in s.receive_bytes(b"\x00" + b"\x01\x02" * 1600) if isinstance(o, AudioFrame)]
    assert len(frames) == 1  # audio still flows


def test_twilio_context_from_custom_parameters() -> None:
    s = session()
    outs = s.receive_text(twilio_start(queue="claims", crm_session="x", **CONTEXT))
    assert errors(outs) == []
    (started,) = events(outs)
    assert started.context == CONTEXT  # other customParameters are the platform's own, not context
    assert started.queue == "claims"


def test_twilio_oversize_context_parameter_is_rejected() -> None:
    s = session()
    outs = s.receive_text(twilio_start(ivr_intent="y" * 500))
    assert errors(outs) == [("bad_context", False)]
    assert events(outs)[0].context == {}


# -- states ------------------------------------------------------------------------
def test_native_states_become_call_events_and_transfer_moves_the_agent() -> None:
    s = session()
    s.receive_text(open_msg())
    kinds = []
    for msg in (
        {"kind": "hold", "reason": "customer asked"},
        {"kind": "resume"},
        {"kind": "mute"},
        {"kind": "unmute"},
        {"kind": "transfer", "agent_id": "a9"},
    ):
        outs = s.receive_text(json.dumps({"type": "state", **msg}))
        assert errors(outs) == []
        (ev,) = events(outs)
        ev = roundtrip(ev)
        assert ev.call_id == "call-1" and ev.source == "ws"
        kinds.append((ev.kind, ev.agent_id, ev.reason))
    assert kinds == [
        ("hold", "a7", "customer asked"),
        ("resume", "a7", ""),
        ("mute", "a7", ""),
        ("unmute", "a7", ""),
        ("transfer", "a9", ""),
    ]
    (ended,) = events(s.receive_text('{"type": "close"}'))
    assert (ended.kind, ended.agent_id) == ("ended", "a9")


@pytest.mark.parametrize(
    ("msg", "text"),
    [
        ({"kind": "park"}, "unknown call state 'park'"),
        ({}, "unknown call state None"),
        ({"kind": "transfer"}, "transfer needs agent_id"),
        ({"kind": "transfer", "agent_id": ""}, "transfer needs agent_id"),
        ({"kind": "hold", "agent_id": "a9"}, "only for transfer"),
        ({"kind": "hold", "reason": 5}, "reason must be"),
    ],
)
def test_bad_state_is_rejected_and_nothing_else_changes(msg: dict, text: str) -> None:
    s = session()
    s.receive_text(open_msg())
    outs = s.receive_text(json.dumps({"type": "state", **msg}))
    assert errors(outs) == [("bad_state", False)]
    assert text in next(o for o in outs if isinstance(o, Reply)).message["message"]
    assert events(outs) == []
    (ended,) = events(s.receive_text('{"type": "close"}'))
    assert ended.agent_id == "a7"


def test_state_before_open_is_no_open() -> None:
    s = session()
    outs = s.receive_text('{"type": "state", "kind": "hold"}')
    assert errors(outs) == [("no_open", True)]
    assert events(outs) == []


def test_twilio_dialect_state_event() -> None:
    s = session()
    s.receive_text(twilio_start())
    (ev,) = events(s.receive_text(json.dumps({"event": "state", "streamSid": "MZ1", "state": {"kind": "hold"}})))
    assert (ev.kind, ev.source, ev.call_id) == ("hold", "twilio", "CA9f3")
    outs = s.receive_text(json.dumps({"event": "state", "streamSid": "MZ1", "state": "hold"}))
    assert errors(outs) == [("bad_state", False)]
    outs = s.receive_text(json.dumps({"event": "state", "state": {"kind": "transfer", "agent_id": "b2"}}))
    assert events(outs)[0].agent_id == "b2"


def test_twilio_state_event_on_a_native_call_is_unexpected() -> None:
    s = session()
    s.receive_text(open_msg())
    outs = s.receive_text(json.dumps({"event": "state", "state": {"kind": "hold"}}))
    assert errors(outs) == [("unexpected", False)] and events(outs) == []
