"""QA store model: filters, derived columns, SQL building (assist_ui.store.model)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from assist_ui.store.model import (
    FilterError,
    ReviewError,
    call_row,
    check_review,
    list_query,
    parse_filter,
    snippet,
)
from assist_ui.store.postgres import _pg

pytestmark = pytest.mark.unit


def test_parse_filter_defaults_and_values():
    f = parse_filter({})
    assert (f.sort, f.limit, f.offset, f.min_severity, f.reviewed) == ("risk", 50, 0, 0, None)
    f = parse_filter({"agent": "agent-1", "severity": "HIGH", "reviewed": "no", "q": " 退款 ", "from": "2025-01-02",
                      "to": "2025-01-02", "limit": "10", "offset": "20", "sort": "newest"})
    assert f.agent == "agent-1" and f.min_severity == 3 and f.reviewed is False and f.q == "退款"
    day = dt.datetime(2025, 1, 2, tzinfo=dt.UTC).timestamp()
    assert f.date_from == day and f.date_to == day + 86400  # "to" includes that whole day
    assert parse_filter({"from": "1700000000.5"}).date_from == 1700000000.5


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"severity": "urgent"}, "severity"),
        ({"reviewed": "maybe"}, "reviewed"),
        ({"sort": "name; drop table calls"}, "sort"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2025-02-01", "to": "2025-01-01"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"q": "x" * 201}, "at most"),
        ({"from": "nan"}, "between"),  # red-team #18 item 9: out-of-range values
        ({"to": "inf"}, "between"),
        ({"from": "-5"}, "between"),
    ],
)
def test_bad_filters_are_rejected_clearly(params, message):
    with pytest.raises(FilterError, match=message):
        parse_filter(params)


def test_call_row_derives_indexed_columns():
    summary = {
        "call_id": "c1", "agent_id": "a", "language": "en", "risk_score": 70, "reasons": ["r"],
        "transcript": [{"text": "Hello There"}, {"text": "Refund please"}],
        "alerts": [{"alert_id": "x", "rule_id": "r2", "severity": "medium", "message": "Promise"},
                   {"alert_id": "y", "rule_id": "r1", "severity": "critical", "message": "Threat"}],
    }
    row = call_row(summary, now=5.0)
    assert row["max_severity"] == 4 and row["alert_count"] == 2 and row["rules"] == "r1 r2"
    assert "refund please" in row["search_text"] and "Refund please" in row["transcript_text"]
    assert json.loads(row["reasons"]) == ["r"] and row["stored_at"] == 5.0
    assert call_row(dict(summary), now=9.0)["content_hash"] == row["content_hash"]
    assert call_row(dict(summary, risk_score=71), now=5.0)["content_hash"] != row["content_hash"]
    with pytest.raises(ValueError, match="call_id"):
        call_row({"call_id": ""}, now=1.0)


def test_list_query_is_parameterised():
    f = parse_filter({"agent": "x' OR 1=1 --", "rule": "r1", "severity": "high", "q": "Refund", "reviewed": "yes"})
    select, count, params = list_query(f, "sqlite")
    assert "x' OR 1=1" not in select and params[0] == "x' OR 1=1 --"
    assert params == ["x' OR 1=1 --", "r1", 3, "refund"]
    assert "instr(c.search_text, ?)" in select and "r.verdict IS NOT NULL" in count
    pg_select, _, _ = list_query(f, "postgres")
    assert "strpos(" in pg_select
    assert _pg("a = ? AND b = ? LIMIT ?") == "a = $1 AND b = $2 LIMIT $3"


def test_snippet_and_review_checks():
    assert snippet("aaa Refund now bbb", "refund", width=2) == "…a Refund n…"
    assert snippet("abc", "zzz") == ""
    check_review("true_positive", "", "")
    with pytest.raises(ReviewError, match="verdict"):
        check_review("maybe", "", "")
    with pytest.raises(ReviewError, match="note"):
        check_review("false_positive", "n" * 2001, "")
