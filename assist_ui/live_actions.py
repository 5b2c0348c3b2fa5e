"""What people do on a live call, over the existing ``/ws`` socket: acknowledge an alert,
whisper to the agent, say "help is coming", raise or lower a hand.

Socket ops (after ``auth``)::

    → {"op": "ack", "call_id", "alert_id"}                      the agent on the call
    → {"op": "raise_hand", "call_id", "note"?} | {"op": "lower_hand", "call_id"}
                                                                the agent (lower: also a supervisor)
    → {"op": "whisper", "call_id", "text"?, "help"?: true}      a supervisor (role with "wall")
    → {"op": "names", "ids": [...]}                             a supervisor: agent ids → display names
    ← {"type": "action_ok", "op", "call_id", "action_id"} | {"type": "error", "error", "op"}
    ← {"type": "update", "call_id", "v", "kind": "action", "item": {"actions": {...}, "action": {...}}}
    ← {"type": "names", "names": {id: name}}

Every action is written to the QA store (``live_actions``, redacted, for audit and for QA)
*before* it is shown: an action the store refused is answered with ``not_stored`` and shows
nowhere, so what the panels show is always what the audit trail holds.  The live copy sits
in ``LiveCall.actions`` (part of every snapshot) and reaches the call's agent and whoever
watches the call like any other update; the wall row carries the counts.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from assist_ui.auth import User, UserDirectory
from assist_ui.fanout import Hub, Outgoing, Subscriber, dumps
from assist_ui.live_state import Change, LiveCall, LiveState
from assist_ui.store import QaStore

log = logging.getLogger(__name__)

ACTION_OPS = frozenset({"ack", "raise_hand", "lower_hand", "whisper", "names"})
MAX_TEXT = 500  # characters of a whisper or a raised hand's note
MAX_MESSAGES = 50  # whispers kept per live call (all are in the store)
MAX_NAMES = 500


class LiveActions:
    def __init__(self, state: LiveState, hub: Hub, store: QaStore | None, users: UserDirectory) -> None:
        self.state = state
        self.hub = hub
        self.store = store
        self.users = users

    async def handle(self, sub: Subscriber, msg: dict[str, Any]) -> None:
        op = msg["op"]
        if op == "names":
            self._names(sub, msg.get("ids"))
            return
        call_id = msg.get("call_id")
        call = self.state.get(call_id) if isinstance(call_id, str) else None
        if call is None or not self.hub.may_view(sub.user, call):
            self._reply_error(sub, op, "not_found")
            return
        try:
            action = self._action(op, sub.user, call, msg)
        except ValueError as exc:
            self._reply_error(sub, op, str(exc))
            return
        if action is None:  # nothing to change (an alert acknowledged twice): say it is done
            sub.push(Outgoing(dumps({"type": "action_ok", "op": op, "call_id": call.call_id, "action_id": ""}),
                              "action_ok"))
            return
        if self.store is not None:
            try:
                await self.store.put_action(action)
            except Exception as exc:  # the store is down: show nothing the audit trail lacks
                log.error("live action %s on %s not stored: %s", op, call.call_id, type(exc).__name__)
                self._reply_error(sub, op, "not_stored")
                return
        self._apply(call, action)
        sub.push(Outgoing(dumps({"type": "action_ok", "op": op, "call_id": call.call_id,
                                 "action_id": action["action_id"]}), "action_ok"))

    # -- validation: what each role may do ----------------------------------------------
    def _action(self, op: str, user: User, call: LiveCall, msg: dict[str, Any]) -> dict[str, Any] | None:
        on_call = bool(call.agent_id) and call.agent_id == user.id
        base = {"call_id": call.call_id, "actor": user.id, "actor_role": user.role, "at": time.time(),
                "alert_id": "", "target": "", "text": ""}
        if op == "ack":
            if not on_call:
                raise ValueError("forbidden")
            alert_id = msg.get("alert_id")
            if not isinstance(alert_id, str) or alert_id not in call.alerts:
                raise ValueError("no_such_alert")
            if alert_id in call.actions.get("acks", {}):
                return None
            return {**base, "action_id": f"ack:{call.call_id}:{alert_id}"[:400], "kind": "ack", "alert_id": alert_id}
        if op == "raise_hand":
            if not on_call:
                raise ValueError("forbidden")
            return {**base, "action_id": uuid.uuid4().hex, "kind": "raise_hand", "text": _text(msg.get("note"))}
        if op == "lower_hand":
            if not (on_call or user.can("wall")):
                raise ValueError("forbidden")
            if not call.actions.get("hand"):
                return None
            return {**base, "action_id": uuid.uuid4().hex, "kind": "lower_hand"}
        # whisper
        if not user.can("wall"):
            raise ValueError("forbidden")
        text, help_flag = _text(msg.get("text")), msg.get("help") is True
        if not text and not help_flag:
            raise ValueError("empty")
        return {**base, "action_id": uuid.uuid4().hex, "kind": "help" if help_flag else "whisper", "text": text,
                "target": call.agent_id}

    # -- the live copy ---------------------------------------------------------------------
    def _apply(self, call: LiveCall, action: dict[str, Any]) -> None:
        acts = call.actions
        who = self._name(action["actor"])
        event = {"action_id": action["action_id"], "kind": action["kind"], "by": action["actor"], "by_name": who,
                 "at": action["at"], "text": action["text"], "alert_id": action["alert_id"]}
        kind = action["kind"]
        if kind == "ack":
            acks = acks_of(acts)
            acks[action["alert_id"]] = {"by": action["actor"], "by_name": who, "at": action["at"]}
        elif kind == "raise_hand":
            acts["hand"] = event
        elif kind == "lower_hand":
            acts["hand"] = None
        else:  # whisper / help: an answer to a raised hand lowers it
            messages = acts.setdefault("messages", [])
            messages.append(event)
            del messages[:-MAX_MESSAGES]
            if kind == "help":
                acts["help"] = event
            acts["hand"] = None
        call.version += 1
        message = {"type": "update", "call_id": call.call_id, "v": call.version, "kind": "action",
                   "item": {"actions": dict(acts), "action": event, "produced_at": action["at"]}}
        self.hub.publish(Change(call.call_id, call.agent_id, "action", message))
        self.hub.publish_wall([call], [])  # acks and hands are rare: no need to wait for the coalesced flush

    def _name(self, user_id: str) -> str:
        user = self.users.get(user_id)
        return user.name if user is not None else user_id

    def _names(self, sub: Subscriber, ids: Any) -> None:
        if not sub.user.can("wall"):
            self._reply_error(sub, "names", "forbidden")
            return
        if not isinstance(ids, list) or len(ids) > MAX_NAMES or not all(isinstance(i, str) for i in ids):
            self._reply_error(sub, "names", "bad_request")
            return
        names = {i: self._name(i) for i in ids}
        sub.push(Outgoing(dumps({"type": "names", "names": names}), "names"))

    @staticmethod
    def _reply_error(sub: Subscriber, op: str, error: str) -> None:
        sub.push(Outgoing(dumps({"type": "error", "error": error, "op": op}), "error"))


def acks_of(actions: dict[str, Any]) -> dict[str, Any]:
    acks: dict[str, Any] = actions.setdefault("acks", {})
    return acks


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError("bad_text")
    return value.strip()
