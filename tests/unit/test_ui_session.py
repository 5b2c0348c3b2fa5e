"""The /ws protocol without sockets: assist_ui.session fed messages, its replies read back."""

from __future__ import annotations

import json

import pytest

from assist_ui.auth import UserDirectory
from assist_ui.fanout import Hub
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics
from assist_ui.session import (
    CLOSE_BAD_MESSAGE,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHORIZED,
    MAX_CALL_ID,
    RATE_BURST,
    Close,
    Perform,
    Session,
    State,
)

pytestmark = pytest.mark.unit

USERS = UserDirectory.from_json(json.dumps({"users": [
    {"id": "agent-1", "name": "A1", "role": "agent", "token": "agent-token-0001"},
    {"id": "agent-2", "name": "A2", "role": "agent", "token": "agent-token-0002"},
    {"id": "sup-1", "name": "S", "role": "supervisor", "token": "super-token-0001"},
    {"id": "qa-1", "name": "Q", "role": "qa", "token": "qaqa-token-00001"},
]}))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _hub() -> Hub:
    hub = Hub(LiveState())
    change = hub.state.apply("event", {"call_id": "c1", "kind": "started", "ts": 1000.0, "agent_id": "agent-1"}, 1.0)
    assert change is not None
    return hub


def _session(token: str = "agent-token-0001", hub: Hub | None = None, **kw) -> Session:
    s = Session(USERS, hub or _hub(), **kw)
    assert s.receive_auth(json.dumps({"op": "auth", "token": token})) is None
    return s


def send(s: Session, msg) -> tuple[object, list[dict]]:
    effect = s.receive(msg if isinstance(msg, str) else json.dumps(msg))
    return effect, s.data_to_send()


def test_good_token_opens_the_session_with_hello_and_own_snapshots():
    hub = _hub()
    s = _session(hub=hub)
    assert s.state is State.OPEN and s.user is not None and s.user.id == "agent-1"
    out = s.data_to_send()
    assert [m["type"] for m in out] == ["hello", "snapshot"]
    assert out[0]["user"] == {"id": "agent-1", "name": "A1", "role": "agent"}
    assert out[1]["call"]["call_id"] == "c1"
    assert s.sub in hub.subscribers


@pytest.mark.parametrize("raw", [
    json.dumps({"op": "auth", "token": "wrong-token-000"}),
    json.dumps({"op": "auth"}),
    json.dumps({"op": "watch", "token": "agent-token-0001"}),  # the right token, the wrong op
    "not json", "[1, 2]", "[" * 100_000, json.dumps({"op": "auth", "token": "agent-token-0001", "pad": "x" * 70000}),
])
def test_bad_auth_closes_4401_and_counts_a_failure(raw):
    metrics = UiMetrics()
    hub = _hub()
    s = Session(USERS, hub, metrics)
    assert s.receive_auth(raw) == Close(CLOSE_UNAUTHORIZED, "unauthorized")
    assert s.state is State.CLOSED and s.sub is None and not hub.subscribers
    assert metrics.auth_failures.labels("ws")._value.get() == 1


def test_no_auth_in_time_closes_4401():
    s = Session(USERS, _hub())
    assert s.receive_auth(None) == Close(CLOSE_UNAUTHORIZED, "authentication timeout")


def test_messages_before_auth_or_after_close_are_a_bug_of_the_io_layer():
    s = Session(USERS, _hub())
    with pytest.raises(RuntimeError):
        s.receive('{"op": "ping"}')
    s.receive_auth(None)
    with pytest.raises(RuntimeError):
        s.receive('{"op": "ping"}')


@pytest.mark.parametrize("raw", ["{", "[]", '"op"', '{"op": 3}', '{"call_id": "c1"}', "[" * 60_000])
def test_malformed_json_closes_4400(raw):
    metrics = UiMetrics()
    hub = _hub()
    s = _session(hub=hub, metrics=metrics)
    s.data_to_send()
    assert s.receive(raw) == Close(CLOSE_BAD_MESSAGE, "expected a JSON object with 'op'")
    assert s.state is State.CLOSED and not hub.subscribers  # no more updates queued for it


def test_oversize_message_closes_1009():
    s = _session(max_bytes=1000)
    effect, _ = send(s, {"op": "ping", "pad": "x" * 1000})
    assert effect == Close(CLOSE_TOO_BIG, "message too big")


def test_unknown_op_is_answered_not_closed():
    s = _session()
    s.data_to_send()
    effect, out = send(s, {"op": "x" * 100})
    assert effect is None and s.state is State.OPEN
    assert out == [{"type": "error", "error": "unknown_op", "op": "x" * 40}]
    _, out = send(s, {"op": "auth", "token": "agent-token-0001"})  # only the first message authenticates
    assert out[0]["error"] == "unknown_op"


def test_ping_pong():
    s = _session()
    s.data_to_send()
    _, out = send(s, {"op": "ping"})
    assert out[0]["type"] == "pong" and isinstance(out[0]["server_time"], float)


@pytest.mark.parametrize("call_id", [None, "", 5, ["c1"], "c" * (MAX_CALL_ID + 1)])
@pytest.mark.parametrize("op", ["watch", "unwatch"])
def test_watch_needs_a_call_id(op, call_id):
    s = _session("super-token-0001")
    s.data_to_send()
    _, out = send(s, {"op": op, "call_id": call_id})
    assert out == [{"type": "error", "error": "bad_request", "op": op}]


def test_watch_by_role():
    hub = _hub()
    sup = _session("super-token-0001", hub)
    other = _session("agent-token-0002", hub)
    sup.data_to_send(), other.data_to_send()
    _, out = send(sup, {"op": "watch", "call_id": "c1"})
    assert out[0]["type"] == "snapshot" and "c1" in sup.sub.watching
    _, out = send(sup, {"op": "watch", "call_id": "not-yet"})  # a supervisor may wait for a call
    assert out == [{"type": "pending", "call_id": "not-yet"}]
    _, out = send(other, {"op": "watch", "call_id": "c1"})  # another agent's call: as if it did not exist
    assert out == [{"type": "error", "error": "not_found", "call_id": "c1"}]
    _, out = send(other, {"op": "watch", "call_id": "unknown-call"})  # an agent cannot wait for one
    assert out == [{"type": "error", "error": "not_found", "call_id": "unknown-call"}]
    send(sup, {"op": "unwatch", "call_id": "c1"})
    assert "c1" not in sup.sub.watching


def test_wall_is_for_supervisors_only():
    sup, agent = _session("super-token-0001"), _session("agent-token-0001")
    sup.data_to_send(), agent.data_to_send()
    _, out = send(sup, {"op": "wall"})
    assert out[0]["type"] == "wall" and out[0]["full"] is True and sup.sub.wall
    _, out = send(agent, {"op": "wall"})
    assert out == [{"type": "error", "error": "forbidden", "what": "wall"}] and not agent.sub.wall


@pytest.mark.parametrize("op", ["ack", "raise_hand", "lower_hand", "whisper", "names"])
def test_live_actions_go_to_the_io_layer(op):
    # the store write happens outside the state machine; nothing is replied yet
    s = _session()
    s.data_to_send()
    msg = {"op": op, "call_id": "c1", "alert_id": "a1"}
    effect, out = send(s, msg)
    assert effect == Perform(msg) and out == []


def test_rate_limit_refuses_the_extras_and_refills():
    clock = Clock()
    s = _session(clock=clock)
    s.data_to_send()
    for _ in range(int(RATE_BURST)):
        send(s, {"op": "ping"})
    _, out = send(s, {"op": "ping"})
    assert out == [{"type": "error", "error": "rate_limited", "op": "ping"}] and s.state is State.OPEN
    clock.now += 1.0
    _, out = send(s, {"op": "ping"})
    assert out[0]["type"] == "pong"


def test_closed_leaves_the_hub():
    hub = _hub()
    s = _session(hub=hub)
    s.closed()
    assert not hub.subscribers and s.state is State.CLOSED


class _Store:
    """What LiveActions needs of the QA store, in memory (the audit write comes first)."""

    def __init__(self) -> None:
        self.actions: list[dict] = []

    async def put_action(self, action: dict) -> bool:
        self.actions.append(action)
        return True


@pytest.mark.parametrize(("token", "alert_id", "reply"), [
    ("agent-token-0001", "a1", {"type": "action_ok", "op": "ack", "call_id": "c1"}),  # the agent on the call
    ("agent-token-0001", "nope", {"type": "error", "error": "no_such_alert", "op": "ack"}),
    ("super-token-0001", "a1", {"type": "error", "error": "forbidden", "op": "ack"}),  # only the agent acks
    ("agent-token-0002", "a1", {"type": "error", "error": "not_found", "op": "ack"}),  # not their call
])
async def test_ack_op_through_the_session_and_the_live_actions(token, alert_id, reply):
    from assist_ui.live_actions import LiveActions

    hub = _hub()
    hub.state.apply("alert", {"call_id": "c1", "alert_id": "a1", "rule_id": "r", "severity": "high",
                              "channel": "agent", "message": "m", "produced_at": 1.0}, 1.0)
    store = _Store()
    actions = LiveActions(hub.state, hub, store, USERS)  # type: ignore[arg-type]
    s = _session(token, hub)
    s.data_to_send()
    effect = s.receive(json.dumps({"op": "ack", "call_id": "c1", "alert_id": alert_id}))
    assert isinstance(effect, Perform) and s.sub is not None
    await actions.handle(s.sub, effect.msg)
    out = [m for m in s.data_to_send() if m["type"] in ("action_ok", "error")]
    assert len(out) == 1 and {k: out[0].get(k) for k in reply} == reply
    assert [a["kind"] for a in store.actions] == (["ack"] if reply["type"] == "action_ok" else [])
