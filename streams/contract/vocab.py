"""Vocabularies every process shares (no imports of ours: the lowest floor of the house).

The severity order is the one of compliance rules, alerts and risk levels alike; the
numeric rank is what the QA store keeps (``max_severity``) and filters on, so it is
part of the stored format: 0 for none or an unknown name, then 1..4.
"""

from __future__ import annotations

from typing import Literal

Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")  # least severe first

_RANK = {name: i + 1 for i, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """1 (low) .. 4 (critical); 0 for "" or a name outside :data:`SEVERITIES`."""
    return _RANK.get(severity, 0)


def severity_of_rank(rank: int) -> str:
    """The severity of a rank from :func:`severity_rank` ("" for 0 or out of range)."""
    return SEVERITIES[rank - 1] if 1 <= rank <= len(SEVERITIES) else ""
