"""Knowledge base on the pages, in Chromium against `callassist ui` on the embedded broker:
the agent searches the KB (Mandarin and English), marks a live suggestion useful, and QA
sees it in the KB owners' report."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from test_agent_panel import live_part
from test_ui_pages import CHROMIUM, CHROMIUM_ARGS, replay, sign_in, ui_process  # noqa: F401

pytestmark = pytest.mark.e2e


async def test_kb_search_feedback_and_report(ui_process):  # noqa: F811
    from playwright.async_api import async_playwright, expect

    settings, base = ui_process
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            agent = await sign_in(browser, base, "agent-1", "/agent")
            form = agent.locator("#kbsearch")
            await form.locator("input[name=q]").fill("我要退保")
            await form.locator("button[type=submit]").click()
            first = agent.locator("#kbresults .kb-result").first
            await expect(first.locator("strong")).to_have_text("退保办理")
            await expect(first.locator(".sugg-text")).to_contain_text("现金价值")
            await expect(first.locator("a.kb-link").first).to_have_attribute("href", "https://kb.example.com/policy/cancellation-form")
            await form.locator("input[name=q]").fill("I want to cancel my policy")
            await form.locator("button[type=submit]").click()
            await expect(agent.locator("#kbresults .kb-result").first.locator(".sugg-text")).not_to_contain_text("现金价值")

            await replay(settings, live_part("kbfb-1", "agent-1", t0=time.time()))
            card = agent.locator("#suggestions .suggestion[data-suggestion='kbfb-1:kb:refund']")
            await card.locator("button.kb-useful").click()
            await expect(card.locator("button.kb-useful")).to_have_attribute("aria-pressed", "true")
            await expect(card.locator("button.kb-not-useful")).to_have_attribute("aria-pressed", "false")
            for _ in range(50):
                db = sqlite3.connect(str(settings.sqlite_path()))
                rows = db.execute("SELECT user_id, useful, intent FROM kb_feedback WHERE call_id = 'kbfb-1'").fetchall()
                db.close()
                if rows:
                    break
                await asyncio.sleep(0.1)
            assert rows == [("agent-1", 1, "refund")]

            qa = await sign_in(browser, base, "qa-1", "/qa")
            await qa.click("#kbreport summary")
            row = qa.locator("#kbreport tbody tr[data-intent='refund']")
            await expect(row).to_contain_text("理财产品退款政策")
            await expect(row.locator("td").nth(3)).to_have_text("1")
            await expect(row.locator("td").nth(5)).to_have_text("100%")
        finally:
            await browser.close()
