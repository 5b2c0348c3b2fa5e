"""HTTP routing, auth and static files of the UI server, without a database (assist_ui.http_api)."""

from __future__ import annotations

import json

import pytest

from assist_ui.auth import UserDirectory
from assist_ui.fanout import Hub
from assist_ui.http_api import HttpApi
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics

pytestmark = pytest.mark.unit

TOKENS = {"agent-1": "agent-one-token-123456", "agent-2": "agent-two-token-123456", "sup": "supervisor-token-12345",
          "qa": "qa-reviewer-token-12345"}


@pytest.fixture
def api():
    users = UserDirectory.from_json(json.dumps({"users": [
        {"id": "agent-1", "role": "agent", "token": TOKENS["agent-1"]},
        {"id": "agent-2", "role": "agent", "token": TOKENS["agent-2"]},
        {"id": "sup", "role": "supervisor", "token": TOKENS["sup"]},
        {"id": "qa", "role": "qa", "token": TOKENS["qa"]},
    ]}))
    state = LiveState()
    state.apply("event", {"call_id": "c1", "kind": "started", "ts": 1.0, "agent_id": "agent-1",
                          "customer_id": "13812345678"}, 1.0)
    return HttpApi(users, None, state, Hub(state), UiMetrics())


def auth(who):
    return {"Authorization": f"Bearer {TOKENS[who]}"}


async def test_pages_and_static_files_are_served(api):
    for path in ("/", "/agent", "/supervisor", "/qa", "/qa/call?id=x", "/agent.html", "/qa.html",
                 "/static/js/common.js", "/static/css/app.css"):
        r = await api.handle("GET", path, {})
        assert r.status == 200, path
        assert r.body
    assert (await api.handle("GET", "/static/js/agent.js", {})).content_type.startswith("text/javascript")
    assert (await api.handle("GET", "/healthz", {})).status == 200


@pytest.mark.parametrize("path", ["/static/../settings.py", "/static/%2e%2e/settings.py", "/static//etc/passwd",
                                  "/../../etc/passwd", "/nope", "/static/js/"])
async def test_no_path_reaches_the_disk_outside_static(api, path):
    assert (await api.handle("GET", path, {})).status == 404


async def test_api_requires_a_valid_bearer_token(api):
    for headers in ({}, {"Authorization": "Bearer wrong-token-000000"}, {"Authorization": TOKENS["qa"]}):
        r = await api.handle("GET", "/api/me", headers)
        assert r.status == 401
        assert "Bearer" in r.headers["WWW-Authenticate"]
    r = await api.handle("GET", "/api/me", auth("qa"))
    assert json.loads(r.body) == {"id": "qa", "name": "qa", "role": "qa"}
    assert api.metrics.auth_failures.labels("http")._value.get() == 3


async def test_agents_cannot_use_the_qa_api(api):
    for path, method in (("/api/qa/calls", "GET"), ("/api/qa/calls/c1", "GET"), ("/api/qa/facets", "GET"),
                         ("/api/qa/calls/c1/review?verdict=true_positive", "POST")):
        assert (await api.handle(method, path, auth("agent-1"))).status == 403


async def test_qa_api_without_store_is_unavailable(api):
    assert (await api.handle("GET", "/api/qa/calls", auth("qa"))).status == 503


async def test_live_calls_only_own_for_agents_and_redacted_for_others(api):
    mine = json.loads((await api.handle("GET", "/api/live/calls", auth("agent-1"))).body)["calls"]
    assert [c["call_id"] for c in mine] == ["c1"] and mine[0]["customer_id"] == "13812345678"
    other = json.loads((await api.handle("GET", "/api/live/calls", auth("agent-2"))).body)["calls"]
    assert other == []
    sup = json.loads((await api.handle("GET", "/api/live/calls", auth("sup"))).body)["calls"]
    assert sup[0]["customer_id"] == "[PHONE]"


async def test_unknown_api_and_wrong_methods(api):
    assert (await api.handle("GET", "/api/nothing", auth("qa"))).status == 404
    assert (await api.handle("POST", "/agent", {})).status == 405
