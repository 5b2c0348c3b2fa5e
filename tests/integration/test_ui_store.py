"""QA store on a real SQLite file and a real PostgreSQL (127.0.0.1:5432, database `test`).

PostgreSQL runs in a throw-away schema per test, dropped afterwards.  Set
CALLASSIST_TEST_PG_URL to use another server.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid

import asyncpg
import pytest

from assist_ui.samples import sample_call
from assist_ui.store import ReviewError, parse_filter
from assist_ui.store.postgres import PostgresStore
from assist_ui.store.sqlite import SqliteStore

pytestmark = pytest.mark.integration

PG_URL = os.environ.get("CALLASSIST_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
DAY = 86400.0
T0 = 1_750_000_000.0  # 2025-06-15


def summary(call_id, agent="agent-1", language="zh", t0=T0, risk=None):
    steps = sample_call(call_id, agent, language, t0)
    body = steps[-1].record.asdict()
    body = {k: ([x.asdict() for x in v] if isinstance(v, list) and v and hasattr(v[0], "asdict") else v)
            for k, v in body.items()}
    if risk is not None:
        body["risk_score"] = risk
    return body


def _pg_unreachable(exc: BaseException) -> None:
    """Skip on a developer's machine without PostgreSQL; fail in CI, where `make test` starts one."""
    msg = f"PostgreSQL not reachable at {PG_URL}: {exc} (run `make postgres`)"
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request, tmp_path):
    if request.param == "sqlite":
        st = SqliteStore(tmp_path / "qa.sqlite3")
        await st.open()
        yield st
        await st.close()
        return
    schema = "ca_test_" + uuid.uuid4().hex[:10]
    try:
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        _pg_unreachable(exc)
    st = PostgresStore(PG_URL, schema=schema)
    try:
        await st.open()
        yield st
    finally:
        await st.close()
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def test_migrations_are_applied_once(store):
    assert await store.schema_version() == 6
    await store.open()  # a second start (another replica) applies nothing twice
    assert await store.schema_version() == 6
    assert await store.ping()


async def test_put_is_idempotent_by_call_id_and_keeps_reviews(store):
    s = summary("call-a")
    assert await store.put_call(s) == "inserted"
    assert await store.put_call(s) == "duplicate"  # at-least-once redelivery
    await store.set_review("call-a", "true_positive", "qa-1", note="agent promised returns")
    rescored = dict(s, risk_score=12.0)
    assert await store.put_call(rescored) == "updated"
    got = await store.get_call("call-a")
    assert got["call"]["risk_score"] == 12.0
    assert [(r["verdict"], r["reviewer"]) for r in got["reviews"]] == [("true_positive", "qa-1")]
    items, total = await store.list_calls(parse_filter({}))
    assert total == 1 and items[0]["review"]["verdict"] == "true_positive"


async def test_live_actions_are_stored_once_redacted_and_shown_with_the_call(store):
    ack = {"action_id": "ack:call-act:a1", "call_id": "call-act", "kind": "ack", "alert_id": "a1",
           "actor": "agent-1", "actor_role": "agent", "at": T0 + 5}
    assert await store.put_action(ack) is True
    assert await store.put_action(dict(ack, at=T0 + 9)) is False  # acknowledged twice: the first one stands
    await store.put_action({"action_id": "m1", "call_id": "call-act", "kind": "whisper", "actor": "sup-1",
                            "actor_role": "supervisor", "target": "agent-1", "text": "call back on 13812345678",
                            "at": T0 + 7})
    got = await store.actions_of("call-act")
    assert [(a["kind"], a["at"]) for a in got] == [("ack", T0 + 5), ("whisper", T0 + 7)]
    assert got[1]["text"] == "call back on [PHONE]" and got[1]["target"] == "agent-1"
    assert await store.actions_of("other-call") == []
    # a live call's actions come before its summary; QA reads them with the stored call
    await store.put_call(summary("call-act"))
    assert [a["kind"] for a in (await store.get_call("call-act"))["actions"]] == ["ack", "whisper"]


async def test_playbacks_are_audited_and_pii_audio_spans_kept(store):
    await store.put_playback({"playback_id": "p1", "call_id": "call-pb", "user_id": "qa-1", "user_role": "qa",
                              "at": T0 + 3})
    await store.put_playback({"playback_id": "p0", "call_id": "call-pb", "user_id": "sup-1",
                              "user_role": "supervisor", "at": T0 + 1})
    got = await store.playbacks_of("call-pb")
    assert [(p["user_id"], p["user_role"], p["redacted"], p["at"]) for p in got] == [
        ("sup-1", "supervisor", 1, T0 + 1), ("qa-1", "qa", 1, T0 + 3)]
    assert await store.playbacks_of("other") == []
    s = summary("call-pb")
    s["transcript"] = [{"channel": "customer", "start": 1.0, "end": 4.0, "text": "phone 13812345678",
                        "words": [{"start": 1.0, "end": 1.5, "text": "phone"},
                                  {"start": 1.6, "end": 3.5, "text": " 13812345678"}]}]
    await store.put_call(s)
    stored = (await store.get_call("call-pb"))["call"]
    assert stored["audio_redactions"] == [{"channel": "customer", "start": 1.35, "end": 3.75, "kind": "phone"}]
    assert stored["transcript"][0]["words"] == []


async def test_pii_is_redacted_before_it_is_stored(store, tmp_path):
    await store.put_call(summary("call-pii"))
    await store.set_review("call-pii", "false_positive", "qa-1", note="customer said 13812345678")
    got = await store.get_call("call-pii")
    text = repr(got)
    for secret in ("13812345678", "110101199003074518"):
        assert secret not in text
    assert "[PHONE]" in got["call"]["customer_id"]
    assert any("[ID_CARD]" in s["text"] for s in got["call"]["transcript"])
    assert got["reviews"][0]["note"] == "customer said [PHONE]"
    # and not hidden in any column: read the raw tables
    if isinstance(store, SqliteStore):
        raw = sqlite3.connect(store.path)
        dump = "\n".join(raw.iterdump())
        raw.close()
    else:
        conn = await asyncpg.connect(PG_URL, server_settings={"search_path": store.schema})
        rows = await conn.fetch("SELECT c::text FROM calls c UNION ALL SELECT r::text FROM reviews r")
        await conn.close()
        dump = "\n".join(r[0] for r in rows)
    assert "13812345678" not in dump and "110101199003074518" not in dump


async def test_ranking_filters_and_search(store):
    await store.put_call(summary("zh-risky", "agent-1", "zh", T0))
    await store.put_call(summary("en-calm", "agent-2", "en", T0 + DAY))
    await store.put_call(summary("zh-mid", "agent-2", "zh", T0 + 2 * DAY, risk=40.0))

    async def ids(**params):
        items, total = await store.list_calls(parse_filter({k: str(v) for k, v in params.items()}))
        assert total == len(items)
        return [i["call_id"] for i in items]

    assert await ids() == ["zh-risky", "zh-mid", "en-calm"]  # by risk
    assert await ids(sort="newest") == ["zh-mid", "en-calm", "zh-risky"]
    assert await ids(agent="agent-2") == ["zh-mid", "en-calm"]
    assert await ids(language="en") == ["en-calm"]
    assert await ids(rule="forbidden.guaranteed_return") == ["zh-risky", "zh-mid"]
    assert await ids(severity="high") == ["zh-risky", "zh-mid"]
    assert await ids(severity="low") == ["zh-risky", "zh-mid", "en-calm"]
    assert await ids(**{"from": T0 + DAY / 2, "to": T0 + 1.5 * DAY}) == ["en-calm"]
    assert await ids(q="退款") == ["zh-risky", "zh-mid"]  # Chinese substring
    assert await ids(q="DUPLICATE CHARGE") == ["en-calm"]  # case-insensitive
    assert await ids(q="13812345678") == []  # redacted text is what is searched
    assert await ids(q="%") == [] and await ids(q="x' OR '1'='1") == []  # literal, not SQL
    await store.set_review("zh-mid", "false_positive", "qa-1")
    assert await ids(reviewed="yes") == ["zh-mid"]
    assert await ids(reviewed="no") == ["zh-risky", "en-calm"]
    page, total = await store.list_calls(parse_filter({"limit": "1", "offset": "1"}))
    assert total == 3 and [i["call_id"] for i in page] == ["zh-mid"]
    hit = (await store.list_calls(parse_filter({"q": "保证收益"})))[0][0]
    assert "保证收益" in hit["snippet"]


async def test_reviews_per_alert_and_errors(store):
    s = summary("call-r")
    await store.put_call(s)
    alert_id = s["alerts"][0]["alert_id"]
    await store.set_review("call-r", "false_positive", "qa-1", alert_id=alert_id)
    await store.set_review("call-r", "true_positive", "qa-2", alert_id=alert_id)  # changed mind: replaced
    reviews = (await store.get_call("call-r"))["reviews"]
    assert [(r["alert_id"], r["verdict"], r["reviewer"]) for r in reviews] == [(alert_id, "true_positive", "qa-2")]
    with pytest.raises(ReviewError, match="no call"):
        await store.set_review("nope", "true_positive", "qa-1")
    with pytest.raises(ReviewError, match="has no alert"):
        await store.set_review("call-r", "true_positive", "qa-1", alert_id="missing")
    with pytest.raises(ReviewError, match="verdict"):
        await store.set_review("call-r", "unsure", "qa-1")
    assert await store.get_call("nope") is None


async def test_facets(store):
    await store.put_call(summary("f1", "agent-1", "zh"))
    await store.put_call(summary("f2", "agent-2", "en"))
    facets = await store.facets()
    assert facets["agents"] == ["agent-1", "agent-2"]
    assert facets["languages"] == ["en", "zh"]
    assert facets["rules"] == ["forbidden.guaranteed_return", "required.recording_notice"]


async def test_migrate_command_on_both_back_ends(tmp_path, monkeypatch, capsys):
    from assist_ui.cli import main

    monkeypatch.setenv("CALLASSIST_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CALLASSIST_UI_DB_URL", raising=False)
    assert await asyncio.to_thread(main, ["migrate"]) == 0
    assert "schema version 6" in capsys.readouterr().out
    assert (tmp_path / "qa.sqlite3").exists()
    try:
        await (await asyncpg.connect(PG_URL, timeout=5)).close()
    except (OSError, asyncpg.PostgresError) as exc:
        _pg_unreachable(exc)
    schema = "ca_test_" + uuid.uuid4().hex[:10]
    monkeypatch.setenv("CALLASSIST_UI_PG_SCHEMA", schema)
    try:
        assert await asyncio.to_thread(main, ["migrate", "--db-url", PG_URL]) == 0
        out = capsys.readouterr().out
        assert f"schema={schema}" in out and "schema version 6" in out
    finally:
        conn = await asyncpg.connect(PG_URL)
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


async def test_kb_feedback_is_one_row_per_user_and_suggestion_and_feeds_the_report(store):
    from assist_ui.kb_report import kb_report

    await store.put_call(summary("call-f1", language="zh"))
    await store.put_call(summary("call-f2", language="zh"))
    await store.put_call(summary("call-f3", language="en"))
    base = {"kind": "kb", "intent": "refund", "title": "理财产品退款政策", "kb_version": "kb1", "user_role": "agent"}
    await store.put_feedback({**base, "call_id": "call-f1", "suggestion_id": "call-f1:kb:refund", "user_id": "agent-1",
                              "useful": True, "at": T0})
    await store.put_feedback({**base, "call_id": "call-f1", "suggestion_id": "call-f1:kb:refund", "user_id": "agent-1",
                              "useful": True, "at": T0 + 1})  # the same click again: still one row
    await store.put_feedback({**base, "call_id": "call-f2", "suggestion_id": "call-f2:kb:refund", "user_id": "agent-1",
                              "useful": True, "at": T0 + 2})
    await store.put_feedback({**base, "call_id": "call-f2", "suggestion_id": "call-f2:kb:refund", "user_id": "agent-1",
                              "useful": False, "at": T0 + 3})  # changed their mind: replaces
    rows = await store.feedback_of("call-f1")
    assert len(rows) == 1 and rows[0]["useful"] == 1 and rows[0]["at"] == T0 + 1 and rows[0]["intent"] == "refund"
    assert [r["useful"] for r in await store.feedback_of("call-f2")] == [0]

    report = {(r["kind"], r["intent"]): r for r in await kb_report(store)}
    refund = report[("kb", "refund")]
    assert (refund["suggested"], refund["useful"], refund["not_useful"], refund["rated"]) == (2, 1, 1, 2)
    assert refund["hit_rate"] == 0.5 and refund["useful_share"] == 0.5 and refund["title"] == "理财产品退款政策"
    dispute = report[("kb", "billing_dispute")]
    assert (dispute["suggested"], dispute["rated"], dispute["hit_rate"]) == (1, 0, 0.0)
    assert dispute["useful_share"] is None
    assert report[("strategy", "upset")]["suggested"] == 2


async def test_risk_reasons_reach_the_qa_api_as_data(store):
    """The sink decodes qa.calls, redacts and stores the body; the API returns the reasons unchanged."""
    from assist_ui.metrics import UiMetrics
    from assist_ui.sink import QaSink

    reasons = [
        {"code": "alert", "text": "high AG_X (agent) at 12s: \u201c保本保息\u201d", "rule_id": "AG_X",
         "severity": "high", "channel": "agent", "status": "violation", "at": 12.0, "evidence": "保本保息",
         "value": 0.0, "v": 1},
        {"code": "alert", "text": "medium RQ_Y (agent)", "rule_id": "RQ_Y", "severity": "medium",
         "channel": "agent", "status": "violation", "at": -1.0, "evidence": "", "value": 0.0, "v": 1},
        {"code": "agitated_share", "text": "customer agitated in 40% of the call", "rule_id": "", "severity": "",
         "channel": "customer", "status": "", "at": -1.0, "evidence": "", "value": 0.4, "v": 1},
    ]
    body = dict(summary("call-rr"), reasons=[r["text"] for r in reasons], risk_reasons=reasons)
    assert await QaSink(store, UiMetrics()).handle(json.dumps(body, ensure_ascii=False)) == "inserted"
    got = (await store.get_call("call-rr"))["call"]
    assert got["risk_reasons"] == reasons and got["reasons"] == body["reasons"]
