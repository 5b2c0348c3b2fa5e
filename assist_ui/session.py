"""The ``/ws`` socket protocol as a sans-I/O state machine (no sockets, no asyncio inside).

Like the protocol core of websockets itself: :class:`Session` is fed what a client sent
(:meth:`Session.receive_auth` for the first message, :meth:`Session.receive` for every
later one) and answers with what the I/O layer must do.  Replies travel through the
session's :class:`~assist_ui.fanout.Subscriber` queue (the socket's outbox, which the hub
also fills with live updates); :meth:`Session.data_to_send` drains it for tests.  What is
left to the I/O layer (``assist_ui/server.py``) is returned as an effect:

- :class:`Close` ``(code, reason)``: close the socket, stop reading;
- :class:`Perform` ``(msg)``: a live action (ack, whisper, ...) that writes the QA store
  first, so it must be awaited (``LiveActions.handle``) before the next message is read;
- :class:`BuildSnapshot` ``(job)``: a redacted snapshot of a long call, to build in a worker
  thread (``job.build``) and hand back with ``Hub.deliver`` (see ``assist_ui.fanout``).

States: ``AWAIT_AUTH`` → ``OPEN`` (after a good token) → ``CLOSED`` (after any Close).

Protocol (JSON text messages)::

    → {"op": "auth", "token": "..."}                 first message, within ui_auth_timeout_s
    ← {"type": "hello", "user": {...}}                then, for an agent, a snapshot per own call
    → {"op": "watch", "call_id": "..."}              follow one call (supervisor/QA: any; agent: own)
    → {"op": "unwatch", "call_id": "..."} | {"op": "wall"} | {"op": "ping"}
    → {"op": "ack" | "raise_hand" | "lower_hand" | "whisper" | "names", ...}   assist_ui.live_actions
    ← {"type": "snapshot" | "update" | "wall" | "removed" | "pending" | "pong" | "error", ...}

Close codes: 4401 not authenticated, 4400 bad message, 1009 message too big.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assist_ui.auth import User, UserDirectory
from assist_ui.fanout import Hub, Outgoing, SnapshotJob, Subscriber, dumps
from assist_ui.live_actions import ACTION_OPS
from assist_ui.metrics import UiMetrics

CLOSE_UNAUTHORIZED = 4401
CLOSE_BAD_MESSAGE = 4400
CLOSE_TOO_BIG = 1009  # RFC 6455 "message too big" (websockets' own max_size check says the same)

#: longest call id a watch/unwatch may name (ids are short; a long one is a client bug or a probe)
MAX_CALL_ID = 200
#: messages one socket may send per second before the extras are refused (a page sends a few:
#: auth, a watch per open call, an ack now and then): generous, it only stops a runaway loop
RATE_PER_S = 100.0
RATE_BURST = 200.0


class State(enum.Enum):
    AWAIT_AUTH = "await_auth"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Close:
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Perform:
    """A live action to await (it writes the store) before reading the next message."""

    msg: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BuildSnapshot:
    """A watched call's redacted snapshot to build off the event loop, then deliver."""

    job: SnapshotJob


Effect = Close | Perform | BuildSnapshot


def parse(raw: str | bytes) -> dict[str, Any] | None:
    """A client message: a JSON object with a string ``op``, or None."""
    try:
        msg = json.loads(raw)
    except (ValueError, TypeError, RecursionError):  # nested JSON: refused, not a crash (1011)
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
        return None
    return msg


class Session:
    """One socket's protocol state.  ``clock`` is injectable so the rate limit is testable."""

    def __init__(
        self,
        users: UserDirectory,
        hub: Hub,
        metrics: UiMetrics | None = None,
        max_bytes: int = 65536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.users = users
        self.hub = hub
        self.metrics = metrics
        self.max_bytes = max_bytes
        self.clock = clock
        self.state = State.AWAIT_AUTH
        self.sub: Subscriber | None = None
        self._tokens = RATE_BURST
        self._refilled = clock()

    @property
    def user(self) -> User | None:
        return self.sub.user if self.sub is not None else None

    # -- inputs ------------------------------------------------------------------------
    def receive_auth(self, raw: str | bytes | None) -> Close | None:
        """The first message (None: none came in time).  On success the session joins the hub
        and queues the greeting (and an agent's snapshots); otherwise close with 4401."""
        if self.state is not State.AWAIT_AUTH:
            raise RuntimeError(f"auth in state {self.state.value}")
        if raw is None:
            return self._close(CLOSE_UNAUTHORIZED, "authentication timeout")
        token = None
        if len(raw) <= self.max_bytes:
            msg = parse(raw)
            if msg is not None and msg["op"] == "auth":
                token = msg.get("token")
        user = self.users.authenticate(token)
        if user is None:
            if self.metrics is not None:
                self.metrics.auth_failures.labels("ws").inc()
            return self._close(CLOSE_UNAUTHORIZED, "unauthorized")
        self.sub = self.hub.add(user)
        self.state = State.OPEN
        self.hub.hello(self.sub)
        return None

    def receive(self, raw: str | bytes) -> Effect | None:
        """One later message: queue the replies; return what the I/O layer must do, if anything."""
        if self.state is not State.OPEN or self.sub is None:
            raise RuntimeError(f"message in state {self.state.value}")
        if len(raw) > self.max_bytes:
            self._bad_input()
            return self._close(CLOSE_TOO_BIG, "message too big")
        msg = parse(raw)
        if msg is None:
            self._bad_input()
            return self._close(CLOSE_BAD_MESSAGE, "expected a JSON object with 'op'")
        op: str = msg["op"]
        if not self._take_token():
            self._error({"error": "rate_limited", "op": op[:40]})
            return None
        return self._dispatch(self.sub, op, msg)

    def closed(self) -> None:
        """The socket went away: leave the hub (no more updates are queued for it)."""
        if self.sub is not None:
            self.hub.remove(self.sub)
        self.state = State.CLOSED

    # -- outputs (for tests and tools; the server's sender task awaits ``sub.get()``) ----------
    def data_to_send(self) -> list[dict[str, Any]]:
        """Every queued message, decoded, oldest first (drains the queue)."""
        out: list[dict[str, Any]] = []
        while self.sub is not None and (item := self.sub.pop()) is not None:
            out.append(json.loads(item.text))
        return out

    # -- the ops -----------------------------------------------------------------------------
    def _dispatch(self, sub: Subscriber, op: str, msg: dict[str, Any]) -> Effect | None:
        call_id: Any = msg.get("call_id")
        if op in ("watch", "unwatch") and (not isinstance(call_id, str) or not 0 < len(call_id) <= MAX_CALL_ID):
            self._error({"error": "bad_request", "op": op})
        elif op == "watch":
            watched = self.hub.watch(sub, call_id)
            if isinstance(watched, SnapshotJob):
                return BuildSnapshot(watched)
        elif op == "unwatch":
            self.hub.unwatch(sub, call_id)
        elif op == "wall":
            self.hub.subscribe_wall(sub)
        elif op in ACTION_OPS:
            return Perform(msg)  # the role checks live with the actions (assist_ui.live_actions)
        elif op == "ping":
            sub.push(Outgoing(dumps({"type": "pong", "server_time": time.time()}), "pong"))
        else:
            self._error({"error": "unknown_op", "op": op[:40]})
        return None

    def _take_token(self) -> bool:
        now = self.clock()
        self._tokens = min(RATE_BURST, self._tokens + (now - self._refilled) * RATE_PER_S)
        self._refilled = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True

    def _error(self, body: dict[str, Any]) -> None:
        assert self.sub is not None
        self.sub.push(Outgoing(dumps({"type": "error", **body}), "error"))

    def _bad_input(self) -> None:
        if self.metrics is not None:
            self.metrics.error("bad_input")

    def _close(self, code: int, reason: str) -> Close:
        self.closed()
        return Close(code, reason)
