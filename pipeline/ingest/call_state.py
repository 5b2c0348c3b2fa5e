"""Call context and call-state messages of the ingest protocol (pure: no I/O).

- Context (customer name/tier, account/policy refs, IVR intent): the native open message's
  ``context`` object, or the same names as Twilio ``<Parameter>``s. Goes on the ``started``
  CallEvent (``CallEvent.context``).
- States: native ``{"type": "state", "kind": "hold"}``, or ``{"event": "state", "state":
  {...}}`` on a Twilio-dialect stream (Twilio itself sends none; docs/ingest.md).  Each
  becomes a CallEvent of that kind.

Both are validated strictly: a bad one gets a non-fatal error (``bad_context`` /
``bad_state``) and the call goes on, its audio untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.ingest.messages import Kind, ProtocolError
from streams.contract.vocab import CALL_CONTEXT_KEYS, CALL_CONTEXT_MAX_VALUE, CALL_STATE_KINDS

_MAX_AGENT_ID = 128
_MAX_REASON = 64


@dataclass(frozen=True, slots=True)
class StateChange:
    kind: str  # one of CALL_STATE_KINDS
    agent_id: str = ""  # transfer: the agent the call moves to
    reason: str = ""


def _context_error(message: str) -> ProtocolError:
    return ProtocolError(Kind.BAD_CONTEXT, f"{message}; the call goes on without context")


def parse_context(raw: Any) -> dict[str, str]:
    """A native open message's ``context``: documented keys only, string values, bounded."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _context_error(f"context must be an object, got {type(raw).__name__}")
    unknown = sorted(str(k) for k in raw if k not in CALL_CONTEXT_KEYS)
    if unknown:
        raise _context_error(f"unknown context key(s) {unknown}: accepted are {', '.join(CALL_CONTEXT_KEYS)}")
    return _checked_values(raw)


def twilio_context(params: dict[str, Any]) -> dict[str, str]:
    """The context keys among Twilio ``customParameters`` (other parameters are the platform's own)."""
    return _checked_values({k: v for k, v in params.items() if k in CALL_CONTEXT_KEYS})


def _checked_values(raw: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(value, str):
            raise _context_error(f"context {key} must be a string, got {type(value).__name__}")
        if len(value) > CALL_CONTEXT_MAX_VALUE:
            raise _context_error(f"context {key} is {len(value)} characters; at most {CALL_CONTEXT_MAX_VALUE}")
        if value.strip():
            out[key] = value.strip()
    return out


def parse_state(obj: Any) -> StateChange:
    """``{"kind": "hold" | "resume" | "mute" | "unmute" | "transfer", "agent_id": ..., "reason": ...}``."""
    if not isinstance(obj, dict):
        raise ProtocolError(Kind.BAD_STATE, "a state message needs an object with \"kind\"")
    kind = obj.get("kind")
    if kind not in CALL_STATE_KINDS:
        raise ProtocolError(
            Kind.BAD_STATE, f"unknown call state {kind!r}: expected one of {', '.join(CALL_STATE_KINDS)}"
        )
    agent_id = obj.get("agent_id")
    if kind == "transfer":
        if not isinstance(agent_id, str) or not 0 < len(agent_id) <= _MAX_AGENT_ID:
            raise ProtocolError(
                Kind.BAD_STATE, f"transfer needs agent_id (the new agent), 1-{_MAX_AGENT_ID} characters"
            )
    elif agent_id is not None:
        raise ProtocolError(Kind.BAD_STATE, f"agent_id is only for transfer, not {kind!r}")
    reason = obj.get("reason", "")
    if not isinstance(reason, str) or len(reason) > _MAX_REASON or not reason.isascii():
        raise ProtocolError(Kind.BAD_STATE, f"reason must be an ASCII string of at most {_MAX_REASON} characters")
    return StateChange(kind=str(kind), agent_id=agent_id or "", reason=reason)
