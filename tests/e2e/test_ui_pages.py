"""The pages in a real browser (Debian's chromium via Playwright) against the real system.

`callassist ui` runs as its own process on the embedded broker; a scripted call is replayed
through the real Kafka topics while an agent's panel is open; the QA summaries go through
``qa.calls`` and the QA sink into SQLite.  Screenshots of every page land in
``var/screenshots/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from assist_ui.samples import Step, sample_call
from assist_ui.settings import DEMO_USERS_FILE, UiSettings
from streams.contract.records import TranscriptSegment
from streams.platform.broker import free_port
from streams.platform.kafka_clients import ensure_topics, make_producer, start_client

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "var" / "screenshots"
TOKENS = {"agent-1": "demo-agent-1-token", "agent-2": "demo-agent-2-token", "sup-1": "demo-supervisor-token",
          "qa-1": "demo-qa-reviewer-token"}  # the demo users file (docs/ui.md)
LIVE_TOPICS = {"events", "transcripts", "alerts", "suggestions", "assist_emotion"}


@pytest.fixture
def ui_process(make_settings, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing: the test set-up installs Debian's chromium (apt-get install -y chromium)")
    port = free_port()
    settings = make_settings(UiSettings, ui_port=port, ui_users_file=DEMO_USERS_FILE, ui_consumer_start="earliest",
                             ui_sink_group=f"qa-sink-{uuid.uuid4().hex[:8]}")
    asyncio.run(ensure_topics(settings))
    env = dict(os.environ)
    for name in ("broker_url", "broker_embedded", "data_dir", "partitions", "ui_port", "ui_users_file",
                 "ui_consumer_start", "ui_sink_group", *[f for f in UiSettings.model_fields if f.startswith("topic_")]):
        env[f"CALLASSIST_{name.upper()}"] = str(getattr(settings, name))
    log = (tmp_path / "ui.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "assist_ui", "run"], cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"callassist ui exited: {(tmp_path / 'ui.log').read_text()}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    else:
        proc.terminate()
        raise AssertionError(f"callassist ui never got ready: {(tmp_path / 'ui.log').read_text()}")
    try:
        yield settings, base
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()
        text = (tmp_path / "ui.log").read_text()
        assert all(t not in text for t in TOKENS.values()), "a token reached the server log"
        assert "Traceback" not in text, text


def _get_json(url: str, token: str) -> dict:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


async def replay(settings: UiSettings, steps, speed: float = 0.0, topics: set[str] | None = None) -> None:
    """Publish a call's records to the real topics; speed>0 keeps their timing (scaled)."""
    producer = make_producer(settings)
    await start_client(producer, settings)
    try:
        t = 0.0
        for step in steps:
            if topics is not None and step.topic not in topics:
                continue
            if speed and step.at > t:
                await asyncio.sleep((step.at - t) * speed)
                t = step.at
            await producer.send_and_wait(getattr(settings, f"topic_{step.topic}"), step.record.to_bytes(),
                                         key=step.record.call_id.encode())
    finally:
        await producer.stop()


async def sign_in(browser, base: str, user: str, path: str):
    context = await browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB")
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(base + path)
    await page.fill("#signin input[name=token]", TOKENS[user])
    await page.click("#signin button[type=submit]")
    await page.wait_for_selector("#app:not([hidden])")
    page.errors = errors  # type: ignore[attr-defined]
    return page


async def test_agent_supervisor_and_qa_pages(ui_process):
    from playwright.async_api import async_playwright, expect

    settings, base = ui_process
    SHOTS.mkdir(parents=True, exist_ok=True)
    zh = sample_call("e2e-zh-001", "agent-1", "zh")
    en = sample_call("e2e-en-002", "agent-2", "en")
    final_zh = [s.record.text for s in zh if s.topic == "transcripts" and s.record.is_final]

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # -- agent panel: the call is replayed while the panel is open ------------------
            agent = await sign_in(browser, base, "agent-1", "/agent")
            await expect(agent.locator("#notice")).to_contain_text("No live call")
            live = [s for s in zh if s.topic in LIVE_TOPICS and not (s.topic == "events" and s.record.kind == "ended")]
            await asyncio.gather(replay(settings, live, speed=0.05), replay(settings, en, topics=LIVE_TOPICS))
            transcript = agent.locator("#transcript .seg.final .seg-text")
            await expect(transcript).to_have_text(final_zh, timeout=15000)  # every partial replaced by its final
            await expect(agent.locator("#transcript .seg.partial")).to_have_count(0)
            alert = agent.locator("#alerts .alert.sev-high")
            await expect(alert).to_contain_text("Never promise guaranteed returns")
            suggestion = agent.locator("#suggestions .suggestion")
            await expect(suggestion.first).to_contain_text("理财产品退款政策")
            await expect(agent.locator("#strategy")).to_contain_text("De-escalate")
            await expect(agent.locator("#emotion .state-label")).not_to_have_text("—")
            await expect(agent.locator("#callhead")).to_contain_text("13812345678")  # their own customer
            await expect(agent.locator("#callhead")).to_contain_text("张伟 · 13812345678")  # CallEvent.context
            await expect(agent.locator("#callhead .ctx-account_ref")).to_contain_text("6222020200112233")
            await expect(agent.locator("#callhead .ctx-ivr_intent")).to_contain_text("理财赎回")
            await suggestion.first.locator("button.copy").click()
            await expect(suggestion.first.locator("button.copy")).to_have_text("Copied ✓")
            copied = await agent.evaluate("navigator.clipboard.readText()")
            assert copied.startswith("您好，理财产品在犹豫期内可全额退款")
            await agent.screenshot(path=str(SHOTS / "agent.png"), full_page=True)
            await agent.click("#lang")
            await expect(agent.locator(".transcript-card h2")).to_have_text("实时转写")
            await expect(alert.locator(".sev-badge")).to_have_text("高")
            await agent.screenshot(path=str(SHOTS / "agent_zh.png"), full_page=True)
            await agent.click("#lang")
            # transcript text is data, never markup
            evil = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
            dialogs: list[str] = []
            agent.on("dialog", lambda d: dialogs.append(d.message))
            await replay(settings, [Step(0, "transcripts", TranscriptSegment(
                call_id="e2e-zh-001", channel="customer", segment_id="e2e-zh-001:evil", is_final=True,
                start=27.5, end=28.0, text=evil, produced_at=time.time()))])
            await expect(agent.locator("#transcript .seg-text").last).to_have_text(evil)
            assert await agent.evaluate("window.__xss") is None and dialogs == []
            assert await agent.locator("#transcript img, #transcript script").count() == 0

            # -- another agent sees only their own call, never agent-1's ------------------------
            other = await sign_in(browser, base, "agent-2", "/agent")
            await expect(other.locator("#callhead .call-id")).to_have_text("e2e-en-002")
            await other.goto(base + "/agent?call=e2e-zh-001")
            await expect(other.locator("#notice")).to_have_text("This call is not available to you.")
            body = await other.inner_text("body")
            assert all(t not in body for t in final_zh) and "guaranteed" not in body
            await other.screenshot(path=str(SHOTS / "agent_other_forbidden.png"), full_page=True)
            forbidden = await other.evaluate(
                "fetch('/api/qa/calls', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('ca.token')}})"
                ".then(r => r.status)")
            assert forbidden == 403
            other.errors.remove("Failed to load resource: the server responded with a status of 403 (Forbidden)")

            # -- supervisor wall, then a call's live view -----------------------------------------
            sup = await sign_in(browser, base, "sup-1", "/supervisor")
            card = sup.locator(".wall-card[data-call='e2e-zh-001']")
            await expect(card.locator(".wall-agent-name")).to_have_text("Li Na 李娜")  # the name, not the id
            await expect(card.locator(".sev-badge")).to_contain_text("High")
            await expect(sup.locator(".wall-card")).to_have_count(1)  # the English call has ended: off the wall
            await sup.screenshot(path=str(SHOTS / "supervisor.png"), full_page=True)
            await card.click()
            await sup.wait_for_url("**/agent?call=e2e-zh-001")
            await expect(sup.locator("#transcript .seg.final")).to_have_count(len(final_zh) + 1)
            await expect(sup.locator("#transcript")).to_contain_text("[PHONE]")  # redacted for others
            assert "13812345678" not in await sup.inner_text("body")
            await expect(sup.locator("#callhead")).to_contain_text("张*")  # the name and refs masked for others
            await expect(sup.locator("#callhead .ctx-account_ref")).to_contain_text("****2233")
            assert "张伟" not in await sup.inner_text("body") and "6222020200112233" not in await sup.inner_text("body")
            await sup.screenshot(path=str(SHOTS / "supervisor_live_view.png"), full_page=True)

            # -- QA: summaries through qa.calls and the sink; the risky call ranks first -------------
            await replay(settings, [zh[-1], en[-1]])
            qa = await sign_in(browser, base, "qa-1", "/qa")
            rows = qa.locator("#calls tbody tr.call-row")
            for _ in range(100):  # the sink writes asynchronously: reload until both are in
                if await rows.count() == 2:
                    break
                await qa.wait_for_timeout(200)
                await qa.click("#filters button[type=submit]")
            await expect(rows).to_have_count(2)
            await expect(rows.first).to_have_attribute("data-call", "e2e-zh-001")
            await expect(rows.first.locator(".level")).to_have_text("High")
            await qa.screenshot(path=str(SHOTS / "qa_list.png"), full_page=True)
            await qa.fill("#filters input[name=q]", "duplicate charge")
            await qa.click("#filters button[type=submit]")
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_have_attribute("data-call", "e2e-en-002")
            await qa.click("#filters button[type=reset]")
            await expect(rows).to_have_count(2)

            await rows.first.click()
            await qa.wait_for_url("**/qa/call?id=e2e-zh-001")
            mark = qa.locator("#transcript mark.sev-high")
            await expect(mark).to_have_text("保证收益")
            await expect(qa.locator("#transcript .inline-suggestion").first).to_contain_text("理财产品退款政策")
            await expect(qa.locator("#curve polyline.line-customer")).to_have_count(1)
            await expect(qa.locator("#transcript")).to_contain_text("[ID_CARD]")
            assert "110101199003074518" not in await qa.inner_text("body")
            await qa.check("#review input[value=true_positive]")
            await qa.fill("#review textarea[name=note]", "承诺收益，确认违规")
            await qa.click("#review button[type=submit]")
            await expect(qa.locator("#review .form-status")).to_have_text("Saved ✓")
            await qa.reload()
            await expect(qa.locator("#reviews")).to_contain_text("True positive")
            await expect(qa.locator("#reviews")).to_contain_text("承诺收益，确认违规")
            await qa.screenshot(path=str(SHOTS / "qa_call.png"), full_page=True)

            for page in (agent, other, sup, qa):
                assert page.errors == [], page.errors
        finally:
            await browser.close()
    # the verdict is in the store (read back through the API, as a separate client)
    stored = await asyncio.to_thread(_get_json, base + "/api/qa/calls/e2e-zh-001", TOKENS["qa-1"])
    assert [(x["verdict"], x["reviewer"]) for x in stored["reviews"]] == [("true_positive", "qa-1")]
