"""Whole-call work (redaction, summary, scorecard, CSV) runs in a worker thread, not on the event
loop that serves every live socket: each CPU step records the thread it ran on."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

import assist_ui.http_api as http_api
import assist_ui.store.base as store_base
from assist_ui.auth import UserDirectory
from assist_ui.fanout import Hub
from assist_ui.http_api import HttpApi
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics
from assist_ui.samples import sample_call
from assist_ui.store.sqlite import SqliteStore

pytestmark = pytest.mark.unit

QA_TOKEN = "qa-reviewer-token-12345"


def _summary(call_id: str) -> dict:
    body = sample_call(call_id, "agent-1", "zh", 1_750_000_000.0)[-1].record.asdict()
    return {k: ([x.asdict() for x in v] if isinstance(v, list) and v and hasattr(v[0], "asdict") else v)
            for k, v in body.items()}


def _spy(monkeypatch, module, name: str, threads: dict[str, set[int]]):
    real = getattr(module, name)

    def spy(*args, **kwargs):
        threads.setdefault(name, set()).add(threading.get_ident())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)


async def test_redaction_summary_scorecard_and_export_run_off_the_loop(tmp_path, monkeypatch):
    threads: dict[str, set[int]] = {}
    _spy(monkeypatch, store_base, "redact_obj", threads)
    _spy(monkeypatch, store_base, "pii_audio_spans", threads)
    _spy(monkeypatch, store_base, "_decode_call", threads)  # the stored call's JSON
    _spy(monkeypatch, http_api, "summarise", threads)
    _spy(monkeypatch, http_api, "fill", threads)
    _spy(monkeypatch, http_api, "export_csv", threads)
    loop_thread = threading.get_ident()

    store = SqliteStore(tmp_path / "qa.sqlite3")
    await store.open()
    try:
        assert await store.put_call(_summary("call-1")) == "inserted"
        users = UserDirectory.from_json(json.dumps({"users": [{"id": "qa", "role": "qa", "token": QA_TOKEN}]}))
        state = LiveState()
        api = HttpApi(users, store, state, Hub(state), UiMetrics())
        auth = {"Authorization": f"Bearer {QA_TOKEN}"}
        for path in ("/api/qa/calls/call-1", "/api/qa/calls/call-1/summary", "/api/qa/calls/call-1/scorecard",
                     "/api/qa/export.csv"):
            r = await api.handle("GET", path, auth)
            assert r.status == 200, (path, r.body[:200])
    finally:
        await store.close()
    await asyncio.sleep(0)

    assert set(threads) == {"redact_obj", "pii_audio_spans", "_decode_call", "summarise", "fill", "export_csv"}
    on_loop = sorted(name for name, ids in threads.items() if loop_thread in ids)
    assert on_loop == [], f"ran on the event loop thread: {on_loop}"
