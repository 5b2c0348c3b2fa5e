"""Call states (hold / resume / mute / unmute / transfer) as CallEvents in the live view."""

from __future__ import annotations

import pytest

from assist_ui.live_state import LiveState

pytestmark = pytest.mark.unit


def ev(kind: str, ts: float, **kw):
    return {"call_id": "c1", "kind": kind, "ts": ts, **kw}


def test_states_follow_the_events_and_duplicates_change_nothing():
    st = LiveState()
    st.apply("event", ev("started", 1000.0, agent_id="agent-1"), 1)
    assert st.get("c1").meta()["call_state"] == "active"
    held = st.apply("event", ev("hold", 1010.0), 2)
    assert held is not None and held.message["item"]["call_state"] == "hold"
    assert st.apply("event", ev("hold", 1010.0), 3) is None  # redelivered
    assert st.apply("event", ev("resume", 1020.0), 4).message["item"]["call_state"] == "active"
    assert st.apply("event", ev("mute", 1030.0), 5).message["item"]["call_state"] == "muted"
    assert st.apply("event", ev("unmute", 1040.0), 6).message["item"]["call_state"] == "active"
    assert st.get("c1").wall_row()["call_state"] == "active" and st.get("c1").status == "live"


def test_a_transfer_moves_the_call_to_the_new_agent():
    st = LiveState()
    st.apply("event", ev("started", 1000.0, agent_id="agent-1"), 1)
    st.apply("event", ev("hold", 1010.0), 2)
    moved = st.apply("event", ev("transfer", 1020.0, agent_id="agent-2"), 3)
    assert moved.owner_changed and moved.prev_agent_id == "agent-1" and moved.agent_id == "agent-2"
    assert st.get("c1").call_state == "active"
    assert [c.call_id for c in st.calls_of("agent-2")] == ["c1"] and st.calls_of("agent-1") == []
