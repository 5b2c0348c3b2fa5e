"""Who may stream through the ingest gateway (sans-I/O): token check and the call-id registry.

The registry is process-wide (one per gateway, shared by all connections and replays); the
session (pipeline.ingest.protocol) asks it at open and tells it at the end of every call.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Sequence

from pipeline.ingest.messages import Kind, ProtocolError


class CallRegistry:
    """Call ids streaming now, and recently ended ones (process-wide, pure).

    A reused call id is refused: its ``seq`` would restart at 0 and consumers, which drop
    duplicates by (call_id, channel, seq), would discard the new audio.
    """

    def __init__(self, max_calls: int = 1000, remember: int = 100_000) -> None:
        self.max_calls = max_calls
        self.remember = remember
        self._active: set[str] = set()
        self._ended: OrderedDict[str, None] = OrderedDict()

    @property
    def active(self) -> int:
        return len(self._active)

    def claim(self, call_id: str) -> ProtocolError | None:
        if call_id in self._active:
            return ProtocolError(
                Kind.DUPLICATE_CALL,
                f"call {call_id!r} is already streaming on another connection",
                fatal=True,
            )
        if call_id in self._ended:
            return ProtocolError(
                Kind.DUPLICATE_CALL,
                f"call {call_id!r} has already ended; a call id streams once (use a new id)",
                fatal=True,
            )
        if len(self._active) >= self.max_calls:
            return ProtocolError(
                Kind.CAPACITY, f"gateway is at its limit of {self.max_calls} calls", fatal=True
            )
        self._active.add(call_id)
        return None

    def release(self, call_id: str) -> None:
        self._active.discard(call_id)
        self._ended[call_id] = None
        while len(self._ended) > self.remember:
            self._ended.popitem(last=False)


def token_ok(token: str | None, tokens: Sequence[str]) -> bool:
    if not token:
        return False
    # constant-time compare against every configured token (rotation: old and new both valid)
    return any(hmac.compare_digest(token.encode(), t.encode()) for t in tokens)
