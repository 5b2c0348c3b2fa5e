"""Call context and call states from the real audio gateway to the agent's panel in Chromium.

The other call-state tests check each half on its own (the gateway writes ``calls.events``;
the panel shows what ``calls.events`` carries); this one runs the whole path a contact-center
platform uses: its audio connection (native protocol) opens a call with CRM context, sends
audio, then hold / resume / mute / unmute / transfer messages, and the agent sees each on the
panel while the call goes on.
"""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry
from test_ui_pages import CHROMIUM, CHROMIUM_ARGS, sign_in, ui_process  # noqa: F401
from websockets.asyncio.client import connect

from pipeline.ingest.service import IngestService
from pipeline.ingest.settings import IngestSettings

pytestmark = pytest.mark.e2e

TOKEN = "gateway-e2e-token-0123456789"
CHUNK = b"\x01" + b"\x00\x01" * 1600  # agent channel, 200 ms of PCM16 at 8 kHz


def open_message(call_id: str, agent_id: str) -> str:
    return json.dumps({
        "type": "open", "call_id": call_id, "agent_id": agent_id, "customer_id": "cust-88", "queue": "claims",
        "language": "zh", "format": {"encoding": "pcm16le", "sample_rate": 8000},
        "context": {"customer_name": "李雷", "customer_tier": "白金", "policy_ref": "PA-99812"},
    })


async def test_states_sent_on_the_audio_connection_show_on_the_agent_panel(ui_process, make_settings):  # noqa: F811
    from playwright.async_api import async_playwright, expect

    settings, base = ui_process
    ingest = IngestService(make_settings(IngestSettings, ingest_port=0, ingest_tokens=TOKEN), CollectorRegistry())
    await ingest.start()
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                agent = await sign_in(browser, base, "agent-1", "/agent")
                other = await sign_in(browser, base, "agent-2", "/agent")
                async with connect(ingest.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
                    await ws.send(open_message("gw-state-1", "agent-1"))
                    assert json.loads(await ws.recv())["type"] == "opened"
                    await ws.send(CHUNK)
                    head = agent.locator("#callhead")
                    await expect(head.locator(".call-id")).to_have_text("gw-state-1")
                    await expect(head).to_contain_text("李雷")  # the agent on the call sees the CRM context
                    await expect(head).to_contain_text("PA-99812")

                    async def state(kind: str, **extra: str) -> None:
                        await ws.send(json.dumps({"type": "state", "kind": kind, **extra}))
                        await ws.send(CHUNK)  # the call goes on between states

                    await state("hold", reason="checking the policy")
                    await expect(head.locator(".call-state")).to_have_text("On hold")
                    await state("resume")
                    await expect(head.locator(".call-state")).to_have_count(0)
                    await state("mute")
                    await expect(head.locator(".call-state")).to_have_text("Muted")
                    await state("unmute")
                    await expect(head.locator(".call-state")).to_have_count(0)
                    await state("transfer", agent_id="agent-2")
                    await expect(other.locator("#callhead .call-id")).to_have_text("gw-state-1")
                    await expect(agent.locator("#notice")).to_contain_text("No live call")
                for page in (agent, other):
                    assert page.errors == [], page.errors
            finally:
                await browser.close()
    finally:
        await ingest.stop()
