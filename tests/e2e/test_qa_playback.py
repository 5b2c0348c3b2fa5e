"""The QA call page plays the recording in sync with the transcript (real browser, real server).

`callassist ui` runs as its own process; the call's summary goes through ``qa.calls`` and the
QA sink; its recording is in the recording store the server reads. In Chromium: play from a
line, from an alert and from a deadline alert; the current line follows the audio; the
deadline alert is shown once at call level with its deadline; the level is never below the
worst alert; the audio the page plays carries a tone where PII was spoken; every playback is
audited; agents are refused.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from test_ui_pages import CHROMIUM, CHROMIUM_ARGS, SHOTS, TOKENS, _get_json, sign_in, ui_process  # noqa: F401

from assist_ui.samples import sample_call
from streams.platform.kafka_clients import make_producer, start_client
from streams.platform.recording_spool import SpooledFrame
from streams.platform.recording_store import RecordingStore

pytestmark = pytest.mark.e2e
CALL = "e2e-play-001"
RATE = 8000


def _summary() -> dict:
    s = json.loads(sample_call(CALL, "agent-1", "zh")[-1].record.to_bytes())
    seg = next(x for x in s["transcript"] if "13812345678" in x["text"])
    seg["words"] = [{"start": 8.5, "end": 9.5, "text": "我的手机是"}, {"start": 9.5, "end": 11.0, "text": "13812345678"},
                    {"start": 11.0, "end": 11.6, "text": "，身份证号"}, {"start": 11.6, "end": 13.0, "text": "110101199003074518，"}]
    agent_text = " ".join(x["text"] for x in s["transcript"] if x["channel"] == "agent")
    s["alerts"].append({
        "call_id": CALL, "alert_id": "RQ_IDENTITY_CHECK:deadline", "rule_id": "RQ_IDENTITY_CHECK",
        "rule_kind": "required_missing", "severity": "critical", "channel": "agent",
        "message": "坐席未在规定时间内核实客户身份。", "evidence": agent_text, "evidence_start": 0.0, "evidence_end": 20.0,
        "match_method": "absent"})
    assert s["risk_level"] == "high"  # what streams sent; the page must show Critical
    return s


async def _publish(settings, summary: dict) -> None:
    producer = make_producer(settings)
    await start_client(producer, settings)
    try:
        await producer.send_and_wait(settings.topic_qa_calls, json.dumps(summary).encode(), key=CALL.encode())
    finally:
        await producer.stop()


async def _current_time(page) -> float:
    return float(await page.evaluate("document.getElementById('player').currentTime"))


async def test_qa_call_page_plays_in_sync_and_redacted(ui_process):  # noqa: F811
    from playwright.async_api import async_playwright, expect

    settings, base = ui_process
    rng = np.random.default_rng(3)
    agent, cust = ((rng.standard_normal(28 * RATE) * 4000).astype(np.int16) for _ in range(2))
    RecordingStore(settings.data_dir / "recordings").write_call(CALL, {
        "agent": {0: SpooledFrame(0, 0.0, RATE, "pcm16le", agent.tobytes())},
        "customer": {0: SpooledFrame(0, 0.0, RATE, "pcm16le", cust.tobytes())}})
    await _publish(settings, _summary())
    for _ in range(150):  # the QA sink writes asynchronously: open the page once the call is stored
        try:
            await asyncio.to_thread(_get_json, f"{base}/api/qa/calls/{CALL}", TOKENS["qa-1"])
            break
        except urllib.error.HTTPError:
            await asyncio.sleep(0.2)
    SHOTS.mkdir(parents=True, exist_ok=True)

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM,
                                           args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"])
        try:
            ag = await sign_in(browser, base, "agent-1", "/agent")
            status = await ag.evaluate(f"""fetch('/api/qa/calls/{CALL}/playback', {{method: 'POST',
                headers: {{Authorization: 'Bearer ' + sessionStorage.getItem('ca.token')}}}}).then((r) => r.status)""")
            assert status == 403  # agents never play recordings

            qa = await sign_in(browser, base, "qa-1", f"/qa/call?id={CALL}")
            await expect(qa.locator("#callhead")).to_be_visible()
            await expect(qa.locator("#callhead .risk-big small")).to_have_text(" Critical")
            # the summary, in the call's language (Mandarin), with what the agent committed to
            await expect(qa.locator("#summary .sum-reason")).to_contain_text("理财产品退款政策")
            await expect(qa.locator("#summary .sum-committed")).to_contain_text("退款")
            await expect(qa.locator("#summary .sum-outcome")).to_contain_text("已升级")  # a complaint in the closing lines + a logged request
            # the emotion arc from the voice and the customer's words, with what counted, in Mandarin
            await expect(qa.locator("#summary .sum-emotion")).to_contain_text("始终不满")
            await expect(qa.locator("#summary .sum-emotion .sum-arc-reasons")).to_contain_text("结尾: 用词 投诉")
            # the deadline alert: once, at call level, with its deadline, never under the lines
            missing = qa.locator("#missing .missing-alert")
            await expect(missing).to_have_count(1)
            await expect(missing).to_contain_text("Identity check")
            await expect(missing).to_contain_text("deadline 00:20")
            await expect(qa.locator("#transcript")).not_to_contain_text("Identity check")
            await expect(qa.locator("#transcript")).not_to_contain_text("RQ_IDENTITY_CHECK")
            await expect(qa.locator("#alerts")).not_to_contain_text("RQ_IDENTITY_CHECK")
            mark = qa.locator('#curve line.alert-mark[data-alert="RQ_IDENTITY_CHECK:deadline"]')
            assert await mark.get_attribute("data-at") == "20"

            # play from a line: the audio starts there and that line becomes the current one
            line = qa.locator(f'#transcript li.seg[data-segment="{CALL}:agent:3"]')
            await line.click()
            await qa.wait_for_function("() => { const a = document.getElementById('player');"
                                       " return !a.paused && a.currentTime >= 13.5 && a.currentTime < 16; }")
            await expect(line).to_have_class(re.compile(r"\bcurrent\b"))
            await expect(qa.locator("#transcript li.seg.current")).to_have_count(1)
            await qa.wait_for_function("() => document.getElementById('player').currentTime >= 14.2")
            await expect(line).to_have_class(re.compile(r"\bcurrent\b"))  # follows as it plays

            # play from an alert (the forbidden phrase at 13.5 s) and from the deadline alert (20 s)
            await qa.locator("#alerts li.alert.sev-critical button.play-from").click()
            await qa.wait_for_function("() => { const t = document.getElementById('player').currentTime;"
                                       " return t >= 20 && t < 22; }")
            await expect(qa.locator(f'#transcript li.seg[data-segment="{CALL}:customer:4"]')).to_have_class(
                re.compile(r"\bcurrent\b"))
            await qa.locator("#alerts li.alert.sev-high button.play-from").click()
            await qa.wait_for_function("() => { const t = document.getElementById('player').currentTime;"
                                       " return t >= 13.5 && t < 15; }")
            await qa.screenshot(path=str(SHOTS / "qa_call_playback.png"), full_page=True)

            # what the page plays: decode the served file in the browser, as it hears it
            samples = await qa.evaluate("""async () => {
                const buf = await (await fetch(document.getElementById('player').src)).arrayBuffer();
                const ctx = new OfflineAudioContext(2, 8000, 8000);
                const audio = await ctx.decodeAudioData(buf);
                const c = audio.getChannelData(1); const a = audio.getChannelData(0);
                return {rate: audio.sampleRate, n: c.length, hidden: Array.from(c.slice(9.3 * 8000, 11.2 * 8000)), hidden2: Array.from(c.slice(11.4 * 8000, 13.2 * 8000)),
                        before: Array.from(c.slice(4 * 8000, 8 * 8000)), agent: Array.from(a.slice(9.3 * 8000, 13.2 * 8000))};
            }""")

            # the scorecard: filled automatically, a QA override keeps the automatic score beside it
            row = qa.locator('#scorecard tr.sc-item[data-item="identity_check"]')
            await expect(row.locator(".sc-auto")).to_have_text("0 / 25")  # the identity check was missed
            auto_total = await qa.locator("#scorecard .sc-auto-total").inner_text()
            await row.locator("input.sc-score").fill("25")
            await row.locator("input.sc-note").fill("核实过了 verified in the CRM")
            await row.locator("button.sc-save").click()
            await expect(row.locator(".sc-final")).to_contain_text("overridden by qa-1")
            await expect(row.locator(".sc-auto")).to_have_text("0 / 25")
            await qa.reload()
            row = qa.locator('#scorecard tr.sc-item[data-item="identity_check"]')
            await expect(row).to_have_class(re.compile(r"\boverridden\b"))
            await expect(row.locator(".sc-final")).to_contain_text("核实过了 verified in the CRM")
            await expect(qa.locator("#scorecard .sc-auto-total")).to_have_text(auto_total)
            total = float(await qa.locator("#scorecard .sc-total").inner_text())
            assert total == float(auto_total.split(" / ")[0]) + 25
            await qa.screenshot(path=str(SHOTS / "qa_call_scorecard.png"), full_page=True)

            # the CSV export from the list, with the override in it
            await qa.goto(base + "/qa")
            await expect(qa.locator("#calls tbody tr.call-row").first).to_have_attribute("data-call", CALL)
            await expect(qa.locator("#calls tbody tr.call-row").first.locator(".level")).to_have_text("Critical")
            async with qa.expect_download() as dl:
                await qa.click("#export")
            csv_path = await (await dl.value).path()
            csv_text = (await asyncio.to_thread(Path(csv_path).read_bytes)).decode("utf-8-sig")
            assert CALL in csv_text and "identity_check" in csv_text and ",critical," in csv_text
            assert qa.errors == [], qa.errors
        finally:
            await browser.close()

    assert samples["rate"] == RATE and samples["n"] == cust.size
    for key in ("hidden", "hidden2"):  # the phone number, then the ID card number
        hidden = np.array(samples[key])
        spectrum = np.abs(np.fft.rfft(hidden)) ** 2
        near_tone = np.abs(np.fft.rfftfreq(hidden.size, 1 / RATE) - 1000) < 20
        assert spectrum[near_tone].sum() > 0.95 * spectrum.sum()  # only the tone: the number is not in what QA hears
    assert np.allclose(np.array(samples["before"]), cust[4 * RATE : 8 * RATE] / 32768.0, atol=1e-4)  # the rest as recorded
    assert np.allclose(np.array(samples["agent"]), agent[int(9.3 * RATE) : int(13.2 * RATE)] / 32768.0, atol=1e-4)

    # every playback is audited, with user and time (the page asked once, then seeks in the file)
    db = sqlite3.connect(settings.data_dir / "qa.sqlite3")
    rows = db.execute("SELECT user_id, user_role, redacted, at FROM playbacks WHERE call_id = ?", (CALL,)).fetchall()
    db.close()
    assert [(r[0], r[1], r[2]) for r in rows] == [("qa-1", "qa", 1)] and rows[0][3] > 0
