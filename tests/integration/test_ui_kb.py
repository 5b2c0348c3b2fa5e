"""Agent KB search on the real UI server (HTTP, token auth), on a KB file of the test's own,
loaded from the configured path the streams worker reads (CALLASSIST_STREAMS_KB_PATH).

No broker: the live bridge and the QA sink are off; the QA store is a real SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import urllib.parse

import pytest
from test_ui_server import ROLES, TOKENS, http

from assist_ui.app import UiApp
from assist_ui.settings import UiSettings
from streams.assist import DEFAULT_KB

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
