"""Call context from ``CallEvent.context`` and call states from ``CallEvent.kind`` (what the telephony platform / CRM knows about the
caller) for the live panels, and what of it people other than the agent may see.

Documented keys (all optional strings; others are dropped, so a platform cannot push
arbitrary data onto the panels):

=============== ========================================= ===================================
key             meaning                                   shown to supervisors / QA as
=============== ========================================= ===================================
customer_name   the caller's name as the CRM has it        first character + ``*`` per rest
customer_tier   service tier ("gold", "vip", "普通" …)     as is
account_ref     bank account / card / customer number      ``****`` + last 4
policy_ref      insurance policy number                    ``****`` + last 4
ivr_intent      what the caller chose in the IVR menu      as is
=============== ========================================= ===================================

The agent on the call sees everything as sent (they are talking to the customer); every
other viewer gets :func:`public_context`.  Values longer than :data:`MAX_VALUE` characters
are cut.
"""

from __future__ import annotations

from typing import Any

from streams.contract.vocab import CALL_CONTEXT_KEYS, CALL_CONTEXT_MAX_VALUE

#: ``CallEvent.kind`` values besides "started"/"ended": what the call's ``call_state`` becomes.
#: "transfer" carries the new ``agent_id`` (the call moves to that agent's panel).
CALL_STATE_EVENTS = {"hold": "hold", "resume": "active", "mute": "muted", "unmute": "active", "transfer": "active"}

CONTEXT_KEYS = CALL_CONTEXT_KEYS  # one list for the ingest gateway (which validates) and the panels
MAX_VALUE = CALL_CONTEXT_MAX_VALUE
_MASK_NAME = ("customer_name",)
_MASK_REF = ("account_ref", "policy_ref")


def clean_context(raw: Any) -> dict[str, str]:
    """The documented keys of a CallEvent's ``context``, as trimmed strings (anything else dropped)."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, str] = {}
    for key in CONTEXT_KEYS:
        value = raw.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            out[key] = str(value).strip()[:MAX_VALUE]
    return out


def _mask_name(name: str) -> str:
    # one visible character per word: "Jane Doe" -> "J*** D**", "张三丰" -> "张**"
    return " ".join(w[0] + "*" * (len(w) - 1) for w in name.split())


def _mask_ref(ref: str) -> str:
    tail = ref[-4:] if len(ref) > 4 else ""
    return "****" + tail


def public_context(context: Any) -> dict[str, str]:
    """What a supervisor or QA reviewer may see of a call's context."""
    ctx = clean_context(context)
    for key in _MASK_NAME:
        if key in ctx:
            ctx[key] = _mask_name(ctx[key])
    for key in _MASK_REF:
        if key in ctx:
            ctx[key] = _mask_ref(ctx[key])
    return ctx
