"""The supervisor wall for a real floor, in Chromium against `callassist ui` on the embedded broker:
55 live calls, agent names, filters, counts per severity, grouping by queue, search, a dense
layout (50 cards on 1920×1080), ended calls leaving the wall, and an unknown call link.
"""

from __future__ import annotations

import pytest
from test_ui_pages import CHROMIUM, CHROMIUM_ARGS, SHOTS, replay, sign_in, ui_process  # noqa: F401

from assist_ui.samples import Step, floor_calls
from streams.contract.records import CallEvent, EmotionState

pytestmark = pytest.mark.e2e

N = 55


async def test_wall_for_a_floor(ui_process):  # noqa: F811
    from playwright.async_api import async_playwright, expect

    settings, base = ui_process
    SHOTS.mkdir(parents=True, exist_ok=True)
    steps = floor_calls(N)
    severities = {s.record.call_id: s.record.severity for s in steps if s.topic == "alerts"}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            sup = await sign_in(browser, base, "sup-1", "/supervisor")
            await sup.set_viewport_size({"width": 1920, "height": 1080})
            await replay(settings, steps)
            cards = sup.locator(".wall .wall-card")
            await expect(cards).to_have_count(N)
            await expect(sup.locator("#count")).to_have_text(f"{N} live calls")
            # names, not ids, for the agents the directory knows
            await expect(sup.locator(".wall-card[data-call='floor-000'] .wall-agent-name")).to_have_text("Li Na 李娜")
            await expect(sup.locator(".wall-card[data-call='floor-001'] .wall-agent-name")).to_have_text("John Smith")
            # dense: at least 50 whole cards on a 1920×1080 screen, the grid uses the full width
            fully = await sup.evaluate("""() => [...document.querySelectorAll('.wall-card')].filter((c) => {
                const r = c.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }).length""")
            assert fully >= 50, f"only {fully} cards fit on 1920×1080"
            width = await sup.evaluate("document.getElementById('wall').getBoundingClientRect().width")
            assert width > 1800, width
            await sup.screenshot(path=str(SHOTS / "supervisor_1920_floor.png"))
            # counts per severity (open alerts), most urgent first
            for sev in ("critical", "high", "medium", "low"):
                n = sum(1 for v in severities.values() if v == sev)
                await expect(sup.locator(f"#sevcounts [data-sev='{sev}']")).to_have_text(f"{sev.title()} {n}")
            first = await cards.first.get_attribute("data-call")
            assert severities[first] == "critical"
            # filters: severity (from the count chip), queue, language, agent, state; search
            await sup.click("#sevcounts [data-sev='high']")
            n_high = sum(1 for v in severities.values() if v in ("high", "critical"))
            await expect(cards).to_have_count(n_high)
            await expect(sup.locator("#count")).to_have_text(f"{n_high} of {N} live calls")
            assert "severity=high" in sup.url
            await sup.click("#wallfilters button[type=reset]")
            await expect(cards).to_have_count(N)
            await sup.select_option("#wallfilters select[name=queue]", "claims")
            await expect(cards).to_have_count(len([i for i in range(N) if i % 4 == 3]))
            await sup.select_option("#wallfilters select[name=language]", "en")
            await expect(cards).to_have_count(len([i for i in range(N) if i % 4 == 3 and i % 3 == 2]))
            await sup.click("#wallfilters button[type=reset]")
            await sup.select_option("#wallfilters select[name=agent]", "agent-2")
            await expect(cards).to_have_count(1)
            await sup.select_option("#wallfilters select[name=agent]", "")
            await sup.select_option("#wallfilters select[name=state]", "angry")
            angry = sum(1 for s in steps if s.topic == "assist_emotion" and s.record.state == "angry")
            await expect(cards).to_have_count(angry)
            await sup.click("#wallfilters button[type=reset]")
            await sup.fill("#wallfilters input[name=q]", "li na")
            await expect(cards).to_have_count(1)
            await sup.fill("#wallfilters input[name=q]", "cust-1007")
            await expect(cards).to_have_count(1)
            await expect(cards.first).to_have_attribute("data-call", "floor-007")
            await sup.fill("#wallfilters input[name=q]", "")
            # grouping by queue
            await sup.check("#wallfilters input[name=group]")
            await expect(sup.locator(".wall-group")).to_have_count(4)
            await expect(sup.locator(".wall-group[data-queue='wealth']")).to_have_text(
                f"Wealth management ({len([i for i in range(N) if i % 4 == 0])})")
            await sup.click("#lang")
            await expect(sup.locator(".wall-group[data-queue='wealth']")).to_contain_text("理财")
            await expect(sup.locator("#sevcounts [data-sev='high']")).to_contain_text("高")
            await sup.screenshot(path=str(SHOTS / "supervisor_1920_grouped_zh.png"))
            await sup.click("#lang")
            await sup.uncheck("#wallfilters input[name=group]")
            # an ended call leaves the wall
            await replay(settings, [Step(0, "events", CallEvent(call_id="floor-000", kind="ended", ts=0.0,
                                                                agent_id="agent-1", reason="hangup", duration=60.0))])
            await expect(cards).to_have_count(N - 1)
            await expect(sup.locator(".wall-card[data-call='floor-000']")).to_have_count(0)
            # talk-over from the emotion worker's voice-activity overlap on the agent channel
            over = sup.locator(".wall-card[data-call='floor-001'] .talk-over")
            await expect(over).to_be_hidden()
            await replay(settings, [Step(0, "assist_emotion", EmotionState(
                call_id="floor-001", channel="agent", state="neutral", arousal=0.3, trend="steady", at=30.0,
                hints=["talking_over"]))])
            await expect(over).to_be_visible()
            await expect(over).to_have_text("Talk-over")
            await expect(over).to_be_hidden(timeout=10_000)  # gone once no new overlap is reported
            # render cost stays small with the cards kept between updates
            ms = await sup.evaluate("window.__wall.renderMs.slice(-20)")
            assert ms and max(ms) < 500, ms
            # an unknown call link says so instead of waiting forever
            async with sup.expect_response("**/api/qa/calls/no-such-call") as asked:
                await sup.goto(base + "/agent?call=no-such-call")
            assert (await asked.value).status == 404
            await expect(sup.locator("#notice")).to_contain_text("No live call with the id “no-such-call”")
            await expect(sup.locator("#notice a")).to_have_count(0)  # not in the QA store either
            # (the page asked the QA store for it: that 404 is the answer, not a fault)
            await sup.wait_for_timeout(200)
            sup.errors.remove("Failed to load resource: the server responded with a status of 404 (Not Found)")
            assert sup.errors == [], sup.errors
        finally:
            await browser.close()
