"""Every page in 中文 and English, in Chromium against `callassist ui` on the embedded broker.

In 中文 no English UI string may remain on screen (each English entry of the pages'
dictionary that the Chinese one does not share is looked for in the page text), and the
English page shows no Chinese UI string.  Screenshots of each page in both languages go
to var/screenshots/; with CALLASSIST_DOCS_SHOTS=1 to docs/screenshots/ (committed).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_ui_pages import CHROMIUM, CHROMIUM_ARGS, REPO, SHOTS, TOKENS, replay, ui_process  # noqa: F401

from assist_ui.samples import floor_calls, sample_call

pytestmark = pytest.mark.e2e

DOCS_SHOTS = REPO / "docs" / "screenshots"
PAGES = [("index", "/", None), ("agent", "/agent", "agent-1"), ("supervisor", "/supervisor", "sup-1"),
         ("qa", "/qa", "qa-1"), ("qa_call", "/qa/call?id=l10n-zh-001", "qa-1")]

DATA_NODES = ("#transcript .seg-text, #transcript .seg-alerts, .inline-suggestion, .sugg-head strong, .sugg-text, "
              ".suggestion > strong, .strategy strong, .strategy p, .alert-msg, .evidence, .reasons li, .last-alert, .whisper-text, .note, "
              ".snippet, .user-name, .wall-agent-name, .hints, .ctx-value, .data, script, style")
_LEFTOVERS = """(lang) => {
    const DATA = '""" + DATA_NODES + """';
    const other = CA.strings(lang === 'zh' ? 'en' : 'zh'), mine = CA.strings(lang);
    const own = new Set(Object.values(mine));
    // UI text only: what the call, the people and the rules say is data, in its own language
    const body = document.body.cloneNode(true);
    body.querySelectorAll(DATA).forEach((n) => n.remove());
    const text = body.textContent + ' ' + document.title + ' ' +
        [...document.querySelectorAll('[placeholder]')].map((n) => n.placeholder).join(' ');
    const found = [];
    for (const [key, value] of Object.entries(other)) {
        if (own.has(value) || key === 'lang_toggle' || key === 'brand') continue; // the switch, the product name
        // the longest literal piece of a template ("{n} live calls" -> " live calls")
        const piece = value.split(/\\{[a-z]+\\}/).map((s) => s.trim()).sort((a, b) => b.length - a.length)[0];
        if (piece.length >= (lang === 'zh' ? 4 : 2) && text.includes(piece)) found.push(key + ': ' + piece);
    }
    return found;
}"""


def _shots_dir() -> Path:
    out = DOCS_SHOTS if os.environ.get("CALLASSIST_DOCS_SHOTS") == "1" else SHOTS
    out.mkdir(parents=True, exist_ok=True)
    return out


async def test_every_page_in_both_languages(ui_process):  # noqa: F811
    from playwright.async_api import async_playwright, expect

    settings, base = ui_process
    out = _shots_dir()
    zh = sample_call("l10n-zh-001", "agent-1", "zh")
    en = sample_call("l10n-en-002", "agent-2", "en")
    live = [s for s in sample_call("l10n-zh-003", "agent-1", "zh") if s.topic not in ("qa_calls",)
            and not (s.topic == "events" and s.record.kind == "ended")]
    await replay(settings, zh + en + live + floor_calls(22, prefix="l10n-floor"))
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, path, user in PAGES:
                context = await browser.new_context(viewport={"width": 1200, "height": 760}, locale="en-GB")
                page = await context.new_page()
                await page.goto(base + path)
                missing = await page.evaluate("""() => { const zh = CA.strings('zh'), en = CA.strings('en');
                    return Object.keys(en).filter((k) => !(k in zh) && !k.endsWith('_one'))
                      .concat(Object.keys(zh).filter((k) => !(k in en))); }""")
                assert missing == [], f"keys in one language only: {missing}"
                if user is not None:
                    await page.fill("#signin input[name=token]", TOKENS[user])
                    await page.click("#signin button[type=submit]")
                    await page.wait_for_selector("#app:not([hidden])")
                ready = {"agent": "#transcript .seg.final", "supervisor": ".wall-card", "qa": "#calls tr.call-row",
                         "qa_call": "#transcript .seg"}.get(name)
                for lang in ("en", "zh"):
                    if lang == "zh":
                        await page.click("#lang")
                    await expect(page.locator("html")).to_have_attribute("lang", "zh-CN" if lang == "zh" else "en")
                    if ready:
                        if name == "qa":  # the sink stores the summaries asynchronously
                            for _ in range(50):
                                if await page.locator(ready).count() == 2:
                                    break
                                await page.wait_for_timeout(200)
                                await page.click("#filters button[type=submit]")
                        await expect(page.locator(ready).first).to_be_visible(timeout=15000)
                    await page.wait_for_timeout(300)
                    left = await page.evaluate(_LEFTOVERS, lang)
                    assert left == [], f"{name} in {lang}: strings of the other language on screen: {left}"
                    await page.screenshot(path=str(out / f"{name}_{lang}.png"))
                await context.close()
        finally:
            await browser.close()
