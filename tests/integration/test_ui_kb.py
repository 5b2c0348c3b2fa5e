"""Agent KB search, suggestion feedback and the KB owners' report on the real UI server (HTTP, token auth), on a KB file of the test's own,
loaded from the configured path the streams worker reads (CALLASSIST_STREAMS_KB_PATH).

Search: no broker (the live bridge and the QA sink are off); the QA store is a real SQLite file.
Feedback: a call comes through the real embedded broker into the running app (see test_ui_server).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.parse

import pytest
from test_ui_server import ROLES, TOKENS, Client, http, publish, ui  # noqa: F401  (ui: the app on a broker)

from assist_ui.app import UiApp
from assist_ui.samples import sample_call
from assist_ui.settings import UiSettings
from streams.kb.source import DEFAULT_KB

pytestmark = pytest.mark.integration


@pytest.fixture
async def kb_ui(tmp_path):
    kb = tmp_path / "kb.yaml"
    shutil.copy(DEFAULT_KB, kb)
    users = {"users": [{"id": u, "role": ROLES[u], "token": t} for u, t in TOKENS.items()]}
    settings = UiSettings(ui_port=0, ui_users_json=json.dumps(users), ui_bridge_enabled=False,
                          ui_sink_enabled=False, data_dir=tmp_path, streams_kb_path=kb, metrics_port=0)
    app = UiApp(settings)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def _search(app, q, token=TOKENS["agent-1"], extra=""):
    return await asyncio.to_thread(http, app, "GET", "/api/kb/search?q=" + urllib.parse.quote(q) + extra, token)


async def test_search_in_both_languages_gives_title_answer_and_links(kb_ui):
    status, body = await _search(kb_ui, "我要退保")
    assert status == 200, body
    top = body["results"][0]
    assert top["intent"] == "cancel_policy" and top["language"] == "zh"
    assert top["title"] == "退保办理" and "现金价值" in top["answer"]
    assert top["links"] and all(u.startswith("https://") for u in top["links"])
    status, body = await _search(kb_ui, "I want to cancel my policy")
    assert status == 200, body
    top = body["results"][0]
    assert top["intent"] == "cancel_policy" and top["language"] == "en"
    assert top["answer"].isascii() and top["title"].isascii()
    # the page's language decides which text an English query gets on a Chinese panel
    status, body = await _search(kb_ui, "cancel policy", extra="&lang=zh&k=2")
    assert status == 200 and len(body["results"]) <= 2 and body["results"][0]["title"] == "退保办理"


async def test_search_needs_a_token_and_valid_input(kb_ui):
    assert (await _search(kb_ui, "退保", token=None))[0] == 401
    assert (await _search(kb_ui, "退保", token="wrong-token-xxxxxxxxxxxx"))[0] == 401
    assert (await _search(kb_ui, "   "))[0] == 400
    assert (await _search(kb_ui, "x" * 201))[0] == 400
    assert (await _search(kb_ui, "退保", extra="&lang=fr"))[0] == 400
    assert (await _search(kb_ui, "退保", extra="&k=0"))[0] == 400
    assert (await _search(kb_ui, "退保", extra="&k=abc"))[0] == 400
    assert (await _search(kb_ui, "退保", token=TOKENS["qa-1"]))[0] == 200  # every role may look things up


async def test_search_follows_the_kb_file_when_it_changes(kb_ui):
    status, before = await _search(kb_ui, "我要退保")
    assert status == 200
    kb = kb_ui.settings.streams_kb_path
    raw = kb.read_text(encoding="utf-8").replace("退保办理", "退保申请办理", 1)
    kb.write_text(raw, encoding="utf-8")
    status, after = await _search(kb_ui, "我要退保")
    assert status == 200
    assert after["results"][0]["title"] == "退保申请办理" and after["kb_version"] != before["kb_version"]


async def _feedback(app, token, call_id, suggestion_id, useful):
    path = (f"/api/kb/feedback?call_id={urllib.parse.quote(call_id)}&suggestion_id={urllib.parse.quote(suggestion_id)}"
            f"&useful={useful}")
    return await asyncio.to_thread(http, app, "POST", path, token)


async def test_feedback_on_a_live_suggestion_is_stored_and_reported(ui):  # noqa: F811
    steps = [s for s in sample_call("fb-1", "agent-1", "zh") if s.topic != "qa_calls"
             and not (s.topic == "events" and s.record.kind == "ended")]
    agent = await Client.open(ui, "agent-1")
    await publish(ui.settings, steps)
    await agent.wait_for(lambda m: m.get("type") == "update" and m.get("kind") == "suggestion"
                         and m["item"]["suggestion_id"] == "fb-1:kb:refund")
    sid, agent_token = "fb-1:kb:refund", TOKENS["agent-1"]
    assert (await _feedback(ui, TOKENS["agent-2"], "fb-1", sid, "true"))[0] == 404  # not their call
    assert (await _feedback(ui, agent_token, "fb-1", "fb-1:kb:nope", "true"))[0] == 404
    assert (await _feedback(ui, agent_token, "fb-1", sid, "maybe"))[0] == 400
    assert (await asyncio.to_thread(http, ui, "GET", "/api/kb/feedback?call_id=fb-1", agent_token))[0] == 405
    status, row = await _feedback(ui, agent_token, "fb-1", sid, "false")
    assert status == 200 and row["intent"] == "refund" and row["kind"] == "kb" and row["useful"] == 0
    assert row["entry_id"] == "wealth_refund"  # which article it was, not only its intent
    status, row = await _feedback(ui, agent_token, "fb-1", sid, "true")  # changed their mind
    assert status == 200 and row["useful"] == 1
    assert (await _feedback(ui, TOKENS["sup-1"], "fb-1", "fb-1:strategy:deescalate", "false"))[0] == 200
    stored = await ui.store.feedback_of("fb-1")
    assert sorted((r["user_id"], r["suggestion_id"], r["useful"]) for r in stored) == [
        ("agent-1", sid, 1), ("sup-1", "fb-1:strategy:deescalate", 0)]
    assert all(r["call_id"] == "fb-1" and r["at"] > 0 for r in stored)

    # the KB owners' report: QA and supervisors only; counts the call once its summary is stored
    assert (await asyncio.to_thread(http, ui, "GET", "/api/kb/report", agent_token))[0] == 403
    await publish(ui.settings, sample_call("fb-1", "agent-1", "zh")[-1:])
    for _ in range(100):
        if await ui.store.get_call("fb-1"):
            break
        await asyncio.sleep(0.1)
    status, body = await asyncio.to_thread(http, ui, "GET", "/api/kb/report", TOKENS["qa-1"])
    assert status == 200, body
    rows = {(r["kind"], r["intent"]): r for r in body["rows"]}
    assert rows[("kb", "refund")]["entry_id"] == "wealth_refund"
    refund = rows[("kb", "refund")]
    assert (refund["suggested"], refund["useful"], refund["not_useful"], refund["hit_rate"]) == (1, 1, 0, 1.0)
    assert rows[("strategy", "upset")]["not_useful"] == 1
    assert (await asyncio.to_thread(http, ui, "GET", "/api/kb/report", TOKENS["sup-1"]))[0] == 200
    await agent.close()


def test_kb_report_command_reads_the_qa_store(tmp_path, capsys):
    from assist_ui.store.sqlite import SqliteStore
    from pipeline.cli import main

    path = tmp_path / "qa.sqlite3"

    async def seed() -> None:
        store = SqliteStore(path)
        await store.open()
        for call_id in ("rep-1", "rep-2"):
            steps = sample_call(call_id, "agent-1", "zh")
            body = json.loads(steps[-1].record.to_bytes())
            await store.put_call(body)
        await store.put_feedback({"call_id": "rep-1", "suggestion_id": "rep-1:kb:refund", "user_id": "agent-1",
                                  "useful": True, "kind": "kb", "intent": "refund", "title": "理财产品退款政策",
                                  "entry_id": "wealth_refund"})
        await store.close()

    asyncio.run(seed())
    assert main(["streams", "kb-report", "--sqlite", str(path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    refund = next(r for r in rows if r["intent"] == "refund")
    assert (refund["suggested"], refund["useful"], refund["not_useful"], refund["hit_rate"]) == (2, 1, 0, 0.5)
    assert main(["streams", "kb-report", "--sqlite", str(path)]) == 0
    table = capsys.readouterr().out
    assert "hit rate" in table and "wealth_refund" in table and "50%" in table and "理财产品退款政策" in table
    assert main(["streams", "kb-report", "--sqlite", str(tmp_path / "empty.sqlite3")]) == 0
    assert "no suggestions" in capsys.readouterr().out


async def test_feedback_on_a_stored_call_and_a_broken_kb(kb_ui, tmp_path):
    await kb_ui.store.put_call(json.loads(sample_call("st-1", "agent-1", "en")[-1].record.to_bytes()))
    sid = "st-1:kb:double-charge"
    assert (await _feedback(kb_ui, TOKENS["agent-2"], "st-1", sid, "true"))[0] == 404  # not their call
    status, row = await _feedback(kb_ui, TOKENS["agent-1"], "st-1", sid, "true")
    assert status == 200 and row["intent"] == "billing_dispute"
    assert (await _feedback(kb_ui, TOKENS["qa-1"], "st-1", sid, "false"))[0] == 200
    assert sorted((r["user_id"], r["useful"]) for r in await kb_ui.store.feedback_of("st-1")) == [
        ("agent-1", 1), ("qa-1", 0)]
    assert (await _feedback(kb_ui, TOKENS["agent-1"], "nope", sid, "true"))[0] == 404

    broken = UiSettings(ui_port=0, ui_users_json=kb_ui.settings.ui_users_json, ui_bridge_enabled=False,
                        ui_sink_enabled=False, data_dir=tmp_path / "b", streams_kb_path=tmp_path / "missing.yaml")
    app = UiApp(broken)
    await app.start()
    try:
        status, body = await _search(app, "退保")
        assert status == 503 and body["error"] == "knowledge base unavailable"
    finally:
        await app.stop()
