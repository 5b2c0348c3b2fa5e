"""QA store model shared by the SQLite and PostgreSQL back ends (pure: no I/O).

- :func:`call_row` turns a (redacted) ``CallSummary`` dict into the indexed columns;
- :class:`CallFilter` / :func:`parse_filter` validate the QA list's filters from a query string;
- :func:`list_query` builds the ranking/filter/search SQL for either dialect.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from streams.contract.vocab import SEVERITIES, severity_rank

VERDICTS = ("true_positive", "false_positive")
SORTS = {
    "risk": "c.risk_score DESC, c.max_severity DESC, c.started_at DESC, c.call_id",
    "newest": "c.started_at DESC, c.call_id",
    "longest": "c.duration DESC, c.call_id",
}
MAX_LIMIT = 200
_MAX_TEXT = 200


class FilterError(ValueError):
    """A QA list filter is malformed (HTTP 400 with this message)."""


class ReviewError(ValueError):
    """A verdict is malformed or targets a call/alert that does not exist."""


@dataclass(frozen=True)
class CallFilter:
    agent: str = ""
    queue: str = ""
    language: str = ""
    rule: str = ""
    min_severity: int = 0  # severity_rank() value; calls with an alert at least this severe
    date_from: float | None = None  # epoch seconds, inclusive (started_at)
    date_to: float | None = None  # epoch seconds, exclusive
    q: str = ""  # text search in the redacted transcript (case-insensitive substring)
    reviewed: bool | None = None
    sort: str = "risk"
    limit: int = 50
    offset: int = 0


def _date(value: str, name: str, end: bool) -> float:
    """Epoch seconds from a number or a YYYY-MM-DD date (UTC; a ``to`` date includes that day)."""
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # nan/inf/negative would make every comparison false (an empty list, no error)
        if not 0.0 <= seconds <= 1e10:
            raise FilterError(f"{name}: epoch seconds must be between 0 and 1e10, got {value[:40]!r}")
        return seconds
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(f"{name}: expected YYYY-MM-DD or epoch seconds, got {value[:40]!r}") from None
    if end:
        day += dt.timedelta(days=1)
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _text(params: dict[str, str], name: str) -> str:
    value = params.get(name, "").strip()
    if len(value) > _MAX_TEXT:
        raise FilterError(f"{name}: at most {_MAX_TEXT} characters")
    return value


def _int(params: dict[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FilterError(f"{name}: expected an integer, got {raw[:20]!r}") from None
    if not lo <= value <= hi:
        raise FilterError(f"{name}: must be between {lo} and {hi}")
    return value


def parse_filter(params: dict[str, str]) -> CallFilter:
    severity = _text(params, "severity").lower()
    if severity and severity not in SEVERITIES:
        raise FilterError(f"severity: one of {', '.join(SEVERITIES)}")
    reviewed_raw = _text(params, "reviewed").lower()
    if reviewed_raw not in ("", "yes", "no", "true", "false"):
        raise FilterError("reviewed: 'yes' or 'no'")
    sort = _text(params, "sort") or "risk"
    if sort not in SORTS:
        raise FilterError(f"sort: one of {', '.join(SORTS)}")
    date_from = _date(params["from"], "from", end=False) if params.get("from") else None
    date_to = _date(params["to"], "to", end=True) if params.get("to") else None
    if date_from is not None and date_to is not None and date_to <= date_from:
        raise FilterError("to: must be after from")
    return CallFilter(
        agent=_text(params, "agent"),
        queue=_text(params, "queue"),
        language=_text(params, "language"),
        rule=_text(params, "rule"),
        min_severity=severity_rank(severity),
        date_from=date_from,
        date_to=date_to,
        q=_text(params, "q"),
        reviewed=None if not reviewed_raw else reviewed_raw in ("yes", "true"),
        sort=sort,
        limit=_int(params, "limit", 50, 1, MAX_LIMIT),
        offset=_int(params, "offset", 0, 0, 1_000_000),
    )


def _severity_rank(alert: dict[str, Any]) -> int:
    return severity_rank(str(alert.get("severity", "")))


def call_row(summary: dict[str, Any], now: float) -> dict[str, Any]:
    """Indexed columns of one redacted CallSummary dict."""
    call_id = summary.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise ValueError("call summary without call_id")
    alerts = [a for a in summary.get("alerts") or [] if isinstance(a, dict)]
    segments = [s for s in summary.get("transcript") or [] if isinstance(s, dict)]
    transcript = "\n".join(str(s.get("text", "")) for s in segments)
    extra = "\n".join(str(a.get("message", "")) for a in alerts)
    text = f"{transcript}\n{extra}".strip()
    body = json.dumps(summary, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return {
        "call_id": call_id,
        "agent_id": str(summary.get("agent_id", "")),
        "customer_id": str(summary.get("customer_id", "")),
        "queue": str(summary.get("queue", "")),
        "language": str(summary.get("language", "")),
        "started_at": float(summary.get("started_at") or 0.0),
        "ended_at": float(summary.get("ended_at") or 0.0),
        "duration": float(summary.get("duration") or 0.0),
        "risk_score": float(summary.get("risk_score") or 0.0),
        "risk_level": str(summary.get("risk_level", "")),
        "reasons": json.dumps(list(summary.get("reasons") or []), ensure_ascii=False),
        "max_severity": max((_severity_rank(a) for a in alerts), default=0),
        "alert_count": len(alerts),
        "rules": " ".join(sorted({str(a.get("rule_id", "")) for a in alerts if a.get("rule_id")})),
        "transcript_text": text,
        "search_text": text.lower(),
        "summary": body,
        "content_hash": hashlib.sha256(body.encode()).hexdigest(),
        "stored_at": now,
        "updated_at": now,
    }


def alert_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {}
    for a in summary.get("alerts") or []:
        if isinstance(a, dict) and a.get("alert_id"):
            rows[a["alert_id"]] = {
                "call_id": summary["call_id"],
                "alert_id": str(a["alert_id"]),
                "rule_id": str(a.get("rule_id", "")),
                "severity": str(a.get("severity", "")),
                "severity_rank": _severity_rank(a),
            }
    return list(rows.values())


LIST_COLUMNS = (
    "c.call_id, c.agent_id, c.customer_id, c.queue, c.language, c.started_at, c.ended_at, c.duration, "
    "c.risk_score, c.risk_level, c.reasons, c.max_severity, c.alert_count, c.rules, "
    "r.verdict, r.reviewer, r.reviewed_at"
)


def list_query(f: CallFilter, dialect: str) -> tuple[str, str, list[Any]]:
    """(select SQL, count SQL, params) for the QA list; placeholders are '?' (convert for asyncpg)."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("c.agent_id", f.agent), ("c.queue", f.queue), ("c.language", f.language)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if f.rule:
        where.append("EXISTS (SELECT 1 FROM alerts a WHERE a.call_id = c.call_id AND a.rule_id = ?)")
        params.append(f.rule)
    if f.min_severity:
        where.append("c.max_severity >= ?")
        params.append(f.min_severity)
    if f.date_from is not None:
        where.append("c.started_at >= ?")
        params.append(f.date_from)
    if f.date_to is not None:
        where.append("c.started_at < ?")
        params.append(f.date_to)
    if f.q:
        # substring search works for Chinese (no word boundaries) as well as English
        where.append("instr(c.search_text, ?) > 0" if dialect == "sqlite" else "strpos(c.search_text, ?) > 0")
        params.append(f.q.lower())
    if f.reviewed is True:
        where.append("r.verdict IS NOT NULL")
    elif f.reviewed is False:
        where.append("r.verdict IS NULL")
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    base = "FROM calls c LEFT JOIN reviews r ON r.call_id = c.call_id AND r.alert_id = ''" + clause
    select = f"SELECT {LIST_COLUMNS}{', c.transcript_text' if f.q else ''} {base} ORDER BY {SORTS[f.sort]} LIMIT ? OFFSET ?"
    return select, f"SELECT count(*) {base}", params


def snippet(text: str, q: str, width: int = 60) -> str:
    """A piece of ``text`` around the first match of ``q`` (for the QA list)."""
    if not q:
        return ""
    i = text.lower().find(q.lower())
    if i < 0:
        return ""
    start, end = max(0, i - width), min(len(text), i + len(q) + width)
    return ("…" if start else "") + text[start:end].replace("\n", " ") + ("…" if end < len(text) else "")


def list_item(row: dict[str, Any], q: str = "") -> dict[str, Any]:
    item = {k: row[k] for k in row if k not in ("transcript_text", "reasons", "verdict", "reviewer", "reviewed_at")}
    item["reasons"] = json.loads(row.get("reasons") or "[]")
    item["rules"] = row["rules"].split() if row.get("rules") else []
    item["review"] = (
        {"verdict": row["verdict"], "reviewer": row["reviewer"], "reviewed_at": row["reviewed_at"]}
        if row.get("verdict")
        else None
    )
    if q:
        item["snippet"] = snippet(row.get("transcript_text", ""), q)
    return item


def check_review(verdict: str, note: str, alert_id: str) -> None:
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict: one of {', '.join(VERDICTS)}")
    if len(note) > 2000:
        raise ReviewError("note: at most 2000 characters")
    if len(alert_id) > 300:
        raise ReviewError("alert_id: too long")
