"""Fan-out of live changes to many sockets without a slow client stalling the others.

Each socket has a :class:`Subscriber`: a bounded queue that only the hub fills and only
that socket's sender task drains.  :meth:`Hub.publish` never awaits: it appends the
pre-serialised message to every interested queue and moves on, so one browser on a bad
link cannot hold up the rest.  A queue that reaches its bound marks its subscriber
dropped; the sender then closes the socket with :data:`DROP_CODE`, the page reconnects
and gets a fresh snapshot, which is cheaper and more correct than replaying a backlog.

Who receives what (the security rule): an agent gets the calls whose ``agent_id`` is
their id, unredacted (they are on the call); users allowed ``live_all`` (supervisor, QA)
get the calls they watch, with PII redacted.  An agent asking to watch someone else's
call gets the same "not found" as for a call that does not exist.

No websockets import here: the server adapts a socket to ``Subscriber.get()``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assist_ui.auth import User
from assist_ui.call_context import public_context
from assist_ui.live_state import Change, LiveCall, LiveState
from assist_ui.metrics import RecordTiming, UiMetrics
from assist_ui.redact import redact_obj, redact_segments

#: calls one socket may watch at once (each costs a set entry and a fan-out check per update)
MAX_WATCHED = 200
#: a snapshot larger than this is cut (oldest segments first) rather than sent whole: browsers
#: and websockets clients refuse messages over 1 MiB by default and close with 1009
MAX_SNAPSHOT_BYTES = 512 * 1024

#: a call with more transcript segments than this is redacted for a watcher off the event loop
#: (:class:`SnapshotJob`): redaction costs ~75 µs per segment, so the snapshot of a 4000-segment
#: call stalled every socket of the process for 0.3 s; below it, inline is cheaper than a thread hop
INLINE_REDACTION_SEGMENTS = 200

#: close code for a client that fell too far behind (RFC 6455 1013 "try again later")
DROP_CODE = 1013
DROP_REASON = "too far behind; reconnect for a snapshot"


#: bidirectional embedding/override/isolate controls: "gnp\u202eexe" would display as "exe.png"
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def dumps(message: Any) -> str:
    """Strict JSON for browsers: a non-finite number (never valid JSON) is sent as null, and
    bidi control characters are shown as U+FFFD so text cannot display reordered."""
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(message), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # safe on the JSON text: these characters are never part of JSON's own syntax
    return _BIDI_CONTROLS.sub("\ufffd", text) if _BIDI_CONTROLS.search(text) else text


def _redacted_update(call: LiveCall, change: Change) -> dict[str, Any]:
    """The update for viewers who get redacted text.  A segment is redacted together with the
    previous segment of its channel, so the rest of a number split across the two is hidden."""
    item = change.message.get("item")
    if change.kind != "segment" or not isinstance(item, dict):
        return redact_obj(change.message)
    prev = next((s for s in reversed(call.segments.values())
                 if s.get("channel") == item.get("channel") and s.get("segment_id") != item.get("segment_id")
                 and s.get("start", 0.0) <= item.get("start", 0.0)), None)
    message = redact_obj({k: v for k, v in change.message.items() if k != "item"})
    message["item"] = redact_segments([prev, item])[1] if prev is not None else redact_obj(item)
    return message


def _truncated_snapshot(snap: dict[str, Any], size: int) -> str:
    """The snapshot cut to fit MAX_SNAPSHOT_BYTES: oldest segments, then the curve, go first."""
    snap = {**snap, "truncated": True}
    for key in ("segments", "curve", "suggestions", "alerts"):
        items = list(snap.get(key) or [])
        while items:
            keep = max(0, int(len(items) * MAX_SNAPSHOT_BYTES / size * 0.9))
            items = items[len(items) - keep:] if keep < len(items) else items[1:]
            snap[key] = items
            text = dumps({"type": "snapshot", "call": snap})
            size = len(text.encode())
            if size <= MAX_SNAPSHOT_BYTES:
                return text
        snap[key] = []
    return dumps({"type": "snapshot", "call": {k: snap[k] for k in ("call_id", "v", "truncated") if k in snap}})


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _snapshot_text(snap: dict[str, Any]) -> str:
    text = dumps({"type": "snapshot", "call": snap})
    if len(text) > MAX_SNAPSHOT_BYTES // 4 and len(text.encode()) > MAX_SNAPSHOT_BYTES:
        text = _truncated_snapshot(snap, len(text.encode()))
    return text


def _redacted_snapshot(snap: dict[str, Any]) -> dict[str, Any]:
    snap = {**snap, "context": public_context(snap.get("context"))}  # names and refs masked (then redacted)
    return redact_obj(snap)


@dataclass(frozen=True, slots=True)
class Outgoing:
    text: str
    type: str
    kind: str = ""
    produced_at: float = 0.0  # of the record behind an update, for the latency histogram
    timing: RecordTiming | None = None  # shared by every copy of one record's update


class Subscriber:
    def __init__(self, user: User, maxlen: int) -> None:
        self.user = user
        self.maxlen = maxlen
        self.own = user.role == "agent"  # agents follow their own calls automatically
        self.wall = False
        self.watching: set[str] = set()
        self.dropped = False
        # called once when dropped, so the server can close a socket whose sender is stuck
        # waiting for a full TCP buffer to drain
        self.on_drop: Callable[[], None] | None = None
        self._queue: deque[Outgoing] = deque()
        self._ready = asyncio.Event()
        # updates of a call whose snapshot is being built off the loop: sent right after it
        self.held: dict[str, list[Outgoing]] = {}

    def __repr__(self) -> str:
        return f"Subscriber({self.user.id}, {self.user.role}, queued={len(self._queue)})"

    @property
    def queued(self) -> int:
        return len(self._queue)

    def push(self, item: Outgoing) -> bool:
        if self.dropped:
            return False
        if len(self._queue) >= self.maxlen:
            self.drop()
            return False
        self._queue.append(item)
        self._ready.set()
        return True

    def pop(self) -> Outgoing | None:
        """The next queued message without waiting (None when empty): for the sans-I/O session's tests."""
        return self._queue.popleft() if self._queue else None

    def drop(self) -> None:
        if self.dropped:
            return
        self.dropped = True
        self._queue.clear()
        self._ready.set()
        if self.on_drop is not None:
            self.on_drop()

    async def get(self) -> Outgoing | None:
        """The next message, or None once the subscriber was dropped (close the socket)."""
        while not self._queue:
            if self.dropped:
                return None
            self._ready.clear()
            await self._ready.wait()
        if self.dropped:
            return None
        return self._queue.popleft()


@dataclass(frozen=True, slots=True)
class SnapshotJob:
    """A watcher's redacted snapshot of a long call, to build in a worker thread.

    ``snap`` was copied on the loop when the watch came, so the thread never reads state the
    loop is changing; the updates published meanwhile are held for the subscriber and sent
    after the snapshot by :meth:`Hub.deliver`, in order."""

    sub: Subscriber
    call_id: str
    snap: dict[str, Any]

    def build(self) -> Outgoing:
        return Outgoing(_snapshot_text(_redacted_snapshot(self.snap)), "snapshot")


class Hub:
    def __init__(self, state: LiveState, queue_max: int = 1000, metrics: UiMetrics | None = None) -> None:
        self.state = state
        self.queue_max = queue_max
        self.metrics = metrics
        self.subscribers: set[Subscriber] = set()

    # -- membership ------------------------------------------------------------
    def add(self, user: User) -> Subscriber:
        sub = Subscriber(user, self.queue_max)
        self.subscribers.add(sub)
        return sub

    def remove(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    @staticmethod
    def may_view(user: User, call: LiveCall | None) -> bool:
        if call is None:
            return False
        return user.can("live_all") or (user.can("live_own") and bool(call.agent_id) and call.agent_id == user.id)

    @staticmethod
    def needs_redaction(user: User, call: LiveCall) -> bool:
        # only the agent on the call sees the customer's numbers as spoken
        return not (call.agent_id and call.agent_id == user.id)

    def _send(self, sub: Subscriber, item: Outgoing) -> None:
        if not sub.push(item) and sub.dropped:
            self._forget_dropped(sub)

    def _forget_dropped(self, sub: Subscriber) -> None:
        if sub in self.subscribers:
            self.subscribers.discard(sub)  # its sender closes the socket with DROP_CODE
            if self.metrics is not None:
                self.metrics.clients_dropped.inc()

    def _send_call(self, sub: Subscriber, call_id: str, item: Outgoing) -> None:
        """Send a message about one call, after its snapshot if that is still being built."""
        held = sub.held.get(call_id)
        if held is None:
            self._send(sub, item)
        elif len(held) < sub.maxlen:
            held.append(item)
        else:  # as far behind as a full queue: dropped like one (the page reconnects)
            sub.held.clear()
            sub.drop()
            self._forget_dropped(sub)

    # -- requests from a socket ------------------------------------------------------
    def hello(self, sub: Subscriber) -> None:
        """Greeting plus, for an agent, a snapshot of each of their calls."""
        calls = self.state.calls_of(sub.user.id) if sub.own else []
        self._send(sub, Outgoing(dumps({"type": "hello", "user": sub.user.public(), "server_time": time.time()}),
                                 "hello"))
        for call in sorted(calls, key=lambda c: c.meta()["started_at"]):
            self._send(sub, self.snapshot_item(sub.user, call))

    def watch(self, sub: Subscriber, call_id: str) -> bool | SnapshotJob:
        """Follow one call; False (and an error message) when it is not visible to the user.

        A long call watched with redaction returns a :class:`SnapshotJob`: the I/O layer builds
        it off the loop and hands it to :meth:`deliver`."""
        if call_id in sub.held:
            return True  # its snapshot is on the way
        if call_id not in sub.watching and len(sub.watching) >= MAX_WATCHED:
            self._send(sub, Outgoing(dumps({"type": "error", "error": "too_many_watched", "call_id": call_id,
                                            "max": MAX_WATCHED}), "error"))
            return False
        call = self.state.get(call_id)
        if call is None and sub.user.can("live_all") and call_id:
            # a supervisor may open a call's page before its first record arrives
            sub.watching.add(call_id)
            self._send(sub, Outgoing(dumps({"type": "pending", "call_id": call_id}), "pending"))
            return True
        if not self.may_view(sub.user, call):
            self._send(sub, Outgoing(dumps({"type": "error", "error": "not_found", "call_id": call_id}), "error"))
            return False
        assert call is not None
        sub.watching.add(call_id)
        if self.needs_redaction(sub.user, call) and len(call.segments) > INLINE_REDACTION_SEGMENTS:
            snap = call.snapshot()
            snap["actions"] = copy.deepcopy(snap["actions"])  # acks and messages change in place
            sub.held[call_id] = []
            return SnapshotJob(sub, call_id, snap)
        self._send(sub, self.snapshot_item(sub.user, call))
        return True

    def deliver(self, job: SnapshotJob, item: Outgoing) -> None:
        """Send a snapshot built off the loop, then the updates held meanwhile."""
        held = job.sub.held.pop(job.call_id, None)
        if held is None or job.sub not in self.subscribers:
            return  # unwatched, removed or disconnected while it was built
        self._send(job.sub, item)
        for update in held:
            self._send(job.sub, update)

    def unwatch(self, sub: Subscriber, call_id: str) -> None:
        sub.watching.discard(call_id)
        sub.held.pop(call_id, None)

    def subscribe_wall(self, sub: Subscriber) -> bool:
        if not sub.user.can("wall"):
            self._send(sub, Outgoing(dumps({"type": "error", "error": "forbidden", "what": "wall"}), "error"))
            return False
        sub.wall = True
        rows = [redact_obj(c.wall_row()) for c in self.state.calls()]
        self._send(sub, Outgoing(dumps({"type": "wall", "full": True, "rows": rows, "server_time": time.time()}),
                                 "wall"))
        return True

    def snapshot_item(self, user: User, call: LiveCall) -> Outgoing:
        snap = call.snapshot()
        if self.needs_redaction(user, call):
            snap = _redacted_snapshot(snap)
        return Outgoing(_snapshot_text(snap), "snapshot")

    # -- changes from the bridge -------------------------------------------------------
    def receives(self, sub: Subscriber, call: LiveCall) -> bool:
        if sub.own and call.agent_id and call.agent_id == sub.user.id:
            return True
        return call.call_id in sub.watching and self.may_view(sub.user, call)

    def publish(self, change: Change, timing: RecordTiming | None = None) -> int:
        """Queue ``change`` for every socket allowed to see it; returns how many got it."""
        call = self.state.get(change.call_id)
        if call is None:
            return 0
        if change.owner_changed:
            return self._publish_owner_change(call, change)
        raw: Outgoing | None = None
        redacted: Outgoing | None = None
        produced_at = float(change.message.get("item", {}).get("produced_at") or 0.0)
        n = 0
        for sub in list(self.subscribers):
            if not self.receives(sub, call):
                continue
            if self.needs_redaction(sub.user, call):
                if redacted is None:
                    redacted = Outgoing(dumps(_redacted_update(call, change)), "update", change.kind, produced_at, timing)
                self._send_call(sub, call.call_id, redacted)
            else:
                if raw is None:
                    raw = Outgoing(dumps(change.message), "update", change.kind, produced_at, timing)
                self._send_call(sub, call.call_id, raw)
            n += 1
        return n

    def _publish_owner_change(self, call: LiveCall, change: Change) -> int:
        # the owner changed (first "started" event, or a transfer): the new owner needs the
        # whole call, the previous owner must stop seeing it
        n = 0
        removed = Outgoing(dumps({"type": "removed", "call_id": call.call_id}), "removed")
        for sub in list(self.subscribers):
            was_owner = bool(change.prev_agent_id) and sub.user.id == change.prev_agent_id
            if self.receives(sub, call):
                self._send_call(sub, call.call_id, self.snapshot_item(sub.user, call))
                n += 1
            elif was_owner and (sub.own or call.call_id in sub.watching):
                sub.watching.discard(call.call_id)
                sub.held.pop(call.call_id, None)
                self._send(sub, removed)
        return n

    def publish_wall(self, calls: list[LiveCall], removed: list[str]) -> int:
        """Send changed wall rows (coalesced by the caller) to every wall subscriber."""
        subs = [s for s in self.subscribers if s.wall]
        if not subs or (not calls and not removed):
            return 0
        text = dumps({"type": "wall", "full": False, "rows": [redact_obj(c.wall_row()) for c in calls],
                      "removed": removed, "server_time": time.time()})
        item = Outgoing(text, "wall")
        for sub in subs:
            self._send(sub, item)
        return len(subs)

    def publish_removed(self, call_ids: list[str], owners: dict[str, str]) -> None:
        """Calls evicted from the live state: tell whoever was following them."""
        for call_id in call_ids:
            item = Outgoing(dumps({"type": "removed", "call_id": call_id}), "removed")
            for sub in list(self.subscribers):
                if call_id in sub.watching or (sub.own and owners.get(call_id) == sub.user.id):
                    sub.watching.discard(call_id)
                    sub.held.pop(call_id, None)
                    self._send(sub, item)
