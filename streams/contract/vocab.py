"""The closed vocabularies of the wire contract, in one place.

Each is a ``Literal`` type (records annotate their fields with it, so the codec refuses a
value outside it) plus the tuple of its values in their meaningful order, for code that
needs to iterate or rank (severity order is policy: low < medium < high < critical).
"""

from __future__ import annotations

from typing import Literal, get_args

#: schema major version of every record (see streams.contract.records, "Versioning")
SCHEMA_VERSION = 1

Channel = Literal["agent", "customer"]
CHANNELS: tuple[str, ...] = get_args(Channel)

Encoding = Literal["pcm16le", "mulaw"]
AUDIO_ENCODINGS: tuple[str, ...] = get_args(Encoding)

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = get_args(Severity)

RuleKind = Literal["forbidden", "required_missing", "ordering"]
RULE_KINDS: tuple[str, ...] = get_args(RuleKind)

#: CallEvent.kind values for a change of call state (besides "started"/"ended"); kind stays a
#: plain string on the wire so an older consumer skips a kind added later instead of failing
CALL_STATE_KINDS = ("hold", "resume", "mute", "unmute", "transfer")

#: the documented keys of CallEvent.context (docs/ui.md "Call context") and a value's size limit
CALL_CONTEXT_KEYS = ("customer_name", "customer_tier", "account_ref", "policy_ref", "ivr_intent")
CALL_CONTEXT_MAX_VALUE = 120


def severity_rank(severity: str) -> int:
    """0 for low .. 3 for critical; -1 for a value outside the vocabulary (sorts below low)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else -1
