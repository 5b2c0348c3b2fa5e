"""The agent panel with partial text and provisional alerts, in a real browser on the real broker.

Committed (stable) words show in normal text and only the unstable tail in grey; a channel
whose audio stopped loses its "speaking…" mark; a provisional alert shows as such and is
then shown retracted when its final took it back.
"""

from __future__ import annotations

import time

import pytest
from test_ui_pages import CHROMIUM, CHROMIUM_ARGS, replay, sign_in, ui_process  # noqa: F401  (fixture)

from assist_ui.samples import Step
from streams.contract.records import Alert, CallEvent, TranscriptSegment

pytestmark = pytest.mark.e2e


async def test_panel_greys_only_the_unstable_tail_and_shows_provisional_then_retracted(ui_process):  # noqa: F811
    from playwright.async_api import async_playwright, expect

    settings, base = ui_process
    call, now = "e2e-partials-1", time.time()
    stable, tail = "This plan has guaranteed returns", " and no fees"
    seg_id = f"{call}:agent:10000"
    alert = Alert(call_id=call, alert_id=f"AG_GUARANTEED_RETURN:{seg_id}", rule_id="AG_GUARANTEED_RETURN",
                  rule_kind="forbidden", severity="critical", channel="agent", message="No guaranteed returns",
                  evidence="guaranteed returns", segment_id=seg_id, provisional=True, produced_at=now)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            agent = await sign_in(browser, base, "agent-1", "/agent")
            await replay(settings, [
                Step(0, "events", CallEvent(call_id=call, kind="started", ts=now, agent_id="agent-1", language="en")),
                Step(0, "transcripts", TranscriptSegment(
                    call_id=call, channel="agent", segment_id=seg_id, is_final=False, start=10.0, end=12.0,
                    text=stable + tail, language="en", revision=1, stable_len=len(stable), produced_at=now)),
                Step(0, "alerts", alert),
            ])
            seg = agent.locator("#transcript .seg.partial")
            await expect(seg.locator(".seg-text")).to_have_text(stable + tail, timeout=15000)
            await expect(seg.locator(".seg-tail")).to_have_text(tail)
            committed = await seg.locator(".seg-text").evaluate("n => n.firstChild.textContent")
            assert committed == stable
            await expect(agent.locator(".alert .state-badge.provisional")).to_have_text("provisional")
            # the audio stopped: no newer partial and no final; "speaking…" goes within ~5 s
            await expect(seg.locator(".partial-mark")).to_have_count(0, timeout=8000)

            retracted = Alert(**{**alert.asdict(), "provisional": False, "retracted": True,
                                 "produced_at": time.time()})
            await replay(settings, [Step(0, "alerts", retracted)])
            await expect(agent.locator(".alert.retracted .state-badge")).to_have_text("retracted", timeout=10000)
            await expect(agent.locator(".alert")).to_have_count(1)
            assert agent.errors == [], agent.errors
        finally:
            await browser.close()
