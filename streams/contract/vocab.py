"""The closed vocabularies of the wire contract, in one place (no imports of ours: the lowest floor).

Each is a ``Literal`` type (records annotate their fields with it, so the codec refuses a
value outside it) plus the tuple of its values in their meaningful order, for code that
needs to iterate or rank.  The severity order is the one of compliance rules, alerts and risk
levels alike; the numeric rank is what the QA store keeps (``max_severity``) and filters on,
so it is part of the stored format: 0 for none or an unknown name, then 1..4.
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
SEVERITIES: tuple[Severity, ...] = get_args(Severity)  # least severe first

RuleKind = Literal["forbidden", "required_missing", "ordering"]
RULE_KINDS: tuple[str, ...] = get_args(RuleKind)

#: CallEvent.kind values for a change of call state (besides "started"/"ended"); kind stays a
#: plain string on the wire so an older consumer skips a kind added later instead of failing
CALL_STATE_KINDS = ("hold", "resume", "mute", "unmute", "transfer")

#: the documented keys of CallEvent.context (docs/ui.md "Call context") and a value's size limit
CALL_CONTEXT_KEYS = ("customer_name", "customer_tier", "account_ref", "policy_ref", "ivr_intent")
CALL_CONTEXT_MAX_VALUE = 120

_RANK: dict[str, int] = {name: i + 1 for i, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """1 (low) .. 4 (critical); 0 for "" or a name outside :data:`SEVERITIES`."""
    return _RANK.get(severity, 0)


def severity_of_rank(rank: int) -> str:
    """The severity of a rank from :func:`severity_rank` ("" for 0 or out of range)."""
    return SEVERITIES[rank - 1] if 1 <= rank <= len(SEVERITIES) else ""
