"""Scorecards through the UI server: filled automatically, overridden by QA with the original kept,
refused for supervisors and agents, exported as CSV with the risk ranking (real broker + SQLite)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import urllib.request
from typing import Any

import pytest
from test_ui_server import TOKENS, http, ui  # noqa: F401  (the `ui` fixture)

from assist_ui.samples import sample_call

pytestmark = pytest.mark.integration


async def test_scorecard_fill_override_and_csv(ui: Any) -> None:  # noqa: F811
    zh = json.loads(sample_call("it-sc-zh", "agent-1", "zh")[-1].record.to_bytes())
    zh["alerts"].append({"call_id": "it-sc-zh", "alert_id": "RQ_IDENTITY_CHECK:deadline", "rule_id": "RQ_IDENTITY_CHECK",
                         "rule_kind": "required_missing", "severity": "critical", "channel": "agent", "message": "m",
                         "evidence_end": 180.0})
    en = json.loads(sample_call("it-sc-en", "agent-2", "en")[-1].record.to_bytes())
    await ui.store.put_call(zh)
    await ui.store.put_call(en)

    path = "/api/qa/calls/it-sc-zh/scorecard"
    status, card = await asyncio.to_thread(http, ui, "GET", path, TOKENS["sup-1"])
    assert status == 200 and card["max"] == 100
    items = {i["id"]: i for i in card["items"]}
    assert items["identity_check"]["auto"] == 0 and items["identity_check"]["evidence"] == "RQ_IDENTITY_CHECK"
    assert items["greeting"]["auto"] == 10  # no RQ_GREETING alert
    assert items["conduct"]["auto"] == 20  # the sample's alert carries no conduct/mis-selling category
    assert items["empathy"]["auto"] == 10 and items["empathy"]["evidence"] == "您别着急，这个产品我们保证收益，绝对不会亏的。"
    auto_total = card["auto_total"]
    assert card["total"] == auto_total

    post = path + "?item=identity_check&score=25&note=checked+on+13812345678"
    assert (await asyncio.to_thread(http, ui, "POST", post, TOKENS["sup-1"]))[0] == 403
    assert (await asyncio.to_thread(http, ui, "POST", post, TOKENS["agent-1"]))[0] == 403
    assert (await asyncio.to_thread(http, ui, "POST", path + "?item=identity_check&score=26", TOKENS["qa-1"]))[0] == 400
    assert (await asyncio.to_thread(http, ui, "POST", path + "?item=nope&score=1", TOKENS["qa-1"]))[0] == 400
    status, card = await asyncio.to_thread(http, ui, "POST", post, TOKENS["qa-1"])
    assert status == 200
    item = next(i for i in card["items"] if i["id"] == "identity_check")
    assert item["auto"] == 0 and item["score"] == 25  # the original is kept next to the override
    assert item["override"]["reviewer"] == "qa-1" and item["override"]["note"] == "checked on [PHONE]"
    assert card["auto_total"] == auto_total and card["total"] == auto_total + 25

    def export() -> tuple[str, str]:
        req = urllib.request.Request(f"http://127.0.0.1:{ui.server.port}/api/qa/export.csv",
                                     headers={"Authorization": f"Bearer {TOKENS['sup-1']}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.headers["Content-Type"], r.read().decode("utf-8-sig")

    content_type, body = await asyncio.to_thread(export)
    assert content_type.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [row["call_id"] for row in rows] == ["it-sc-zh", "it-sc-en"]  # risk ranking
    assert [row["rank"] for row in rows] == ["1", "2"]
    assert rows[0]["risk_level"] == "critical" and rows[0]["max_severity"] == "critical"  # never below the worst alert
    assert float(rows[0]["score_final"]) == auto_total + 25 and float(rows[0]["score_auto"]) == auto_total
    assert rows[0]["overridden_items"] == "identity_check" and rows[1]["overridden_items"] == ""
    assert (await asyncio.to_thread(http, ui, "GET", "/api/qa/export.csv", TOKENS["agent-1"]))[0] == 403
