"""Benchmark: the supervisor wall with many live calls — render time in Chromium and socket traffic.

    python -m bench.wall [--calls 200] [--rate 1] [--seconds 20]

Starts the embedded broker and a UI server, starts ``--calls`` live calls (scripted floor
records), opens the wall in Chromium at 1920×1080 and a second wall socket in Python, then
keeps every call busy for ``--seconds``: ``--rate`` records per call per second (transcript
partials and finals, an emotion state every 4th, an alert every 20th).  It prints what the
wall socket received (messages, bytes, per second) and what the page spent rendering
(``window.__wall.renderMs``: filter, sort, keyed card update; p50/p95/max) plus long tasks
(> 50 ms, from the browser's PerformanceObserver).  Numbers depend on the machine: say how
many cores were free when you quote them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from assist_ui.app import UiApp
from assist_ui.samples import floor_calls
from assist_ui.settings import UiSettings
from streams.contract.records import Alert, EmotionState, TranscriptSegment
from streams.platform.broker import EmbeddedBroker
from streams.platform.kafka_clients import make_producer, start_client

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SUP_TOKEN = "bench-wall-supervisor-token-0001"
_LONG_TASKS = """window.__long = []; new PerformanceObserver((l) => l.getEntries().forEach(
    (e) => window.__long.push(e.duration))).observe({ entryTypes: ['longtask'] });"""


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


async def _wall_socket(port: int, counts: dict[str, float], stop: asyncio.Event) -> None:
    async with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        await ws.send(json.dumps({"op": "auth", "token": SUP_TOKEN}))
        await ws.send(json.dumps({"op": "wall"}))
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            if counts.get("measuring"):
                counts["messages"] += 1
                counts["bytes"] += len(raw.encode() if isinstance(raw, str) else raw)
                msg = json.loads(raw)
                counts["rows"] += len(msg.get("rows") or [])


def _load(settings: UiSettings, n: int, calls: int) -> list[tuple[str, Any]]:
    """One round of records: one per call (``n`` = round number)."""
    out: list[tuple[str, Any]] = []
    now = time.time()
    for i in range(calls):
        call_id = f"floor-{i:03d}"
        if n % 20 == 19 and i % 4 == 0:
            out.append((settings.topic_alerts, Alert(
                call_id=call_id, alert_id=f"bench:{call_id}:{n}", rule_id="bench.rule", rule_kind="forbidden",
                severity=("low", "medium", "high", "critical")[(i + n) % 4], channel="agent",
                message=f"bench alert {n}", produced_at=now)))
        elif n % 4 == 3:
            arousal = round(0.2 + ((i + n) * 13 % 70) / 100, 2)
            out.append((settings.topic_assist_emotion, EmotionState(
                call_id=call_id, channel="customer", state="angry" if arousal >= 0.65 else "neutral",
                arousal=arousal, trend="steady", at=float(n), produced_at=now)))
        else:
            out.append((settings.topic_transcripts, TranscriptSegment(
                call_id=call_id, channel="customer", segment_id=f"{call_id}:b:{n // 2}", is_final=n % 2 == 1,
                start=float(n), end=n + 0.9, text=f"benchmark words {n}", revision=n % 2, produced_at=now)))
    return out


async def run(calls: int, rate: float, seconds: float) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ui-bench-wall-"))
    broker = EmbeddedBroker()
    broker.start()
    users = {"users": [{"id": "sup-bench", "name": "Bench Supervisor", "role": "supervisor", "token": SUP_TOKEN}]}
    values: dict[str, Any] = {
        name: f"{getattr(UiSettings(), name)}.wallbench" for name in UiSettings.model_fields if name.startswith("topic_")
    }
    values.update(broker_url=broker.url, broker_embedded=True, data_dir=tmp, ui_port=0, ui_users_json=json.dumps(users),
                  ui_consumer_start="earliest", ui_sink_enabled=False, partitions=4)
    settings = UiSettings(**values)
    app = UiApp(settings)
    await app.start()
    await asyncio.wait_for(app.bridge_ready.wait(), 30)
    producer = make_producer(settings, linger_ms=5)
    await start_client(producer, settings)
    for step in floor_calls(calls):
        topic = getattr(settings, f"topic_{step.topic}")
        await producer.send(topic, step.record.to_bytes(), key=step.record.call_id.encode())
    await producer.flush()

    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    chromium = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
    page = await chromium.new_page(viewport={"width": 1920, "height": 1080})
    await page.goto(app.server.url + "/supervisor")
    await page.fill("#signin input[name=token]", SUP_TOKEN)
    await page.click("#signin button[type=submit]")
    deadline = time.monotonic() + 60  # (wait_for_function would eval in the page: the CSP forbids it)
    while await page.evaluate("document.querySelectorAll('.wall-card').length") < calls:
        if time.monotonic() > deadline:
            raise SystemExit(f"the wall never showed {calls} calls")
        await asyncio.sleep(0.2)
    await page.evaluate(_LONG_TASKS)
    await page.evaluate("window.__wall.renderMs.length = 0; window.__wall.frameMs.length = 0")
    counts: dict[str, float] = {"messages": 0, "bytes": 0, "rows": 0, "measuring": 0}
    stop = asyncio.Event()
    sock = asyncio.create_task(_wall_socket(app.server.port, counts, stop))
    await asyncio.sleep(1.0)
    counts["measuring"] = 1
    start = time.monotonic()
    sent, n = 0, 0
    while time.monotonic() - start < seconds:
        tick = time.monotonic()
        for topic, rec in _load(settings, n, calls):
            await producer.send(topic, rec.to_bytes(), key=rec.call_id.encode())
            sent += 1
        n += 1
        await asyncio.sleep(max(0.0, 1.0 / rate - (time.monotonic() - tick)))
    await producer.flush()
    await asyncio.sleep(1.0)
    elapsed = time.monotonic() - start
    counts["measuring"] = 0
    render_ms: list[float] = await page.evaluate("window.__wall.renderMs")
    frame_ms: list[float] = await page.evaluate("window.__wall.frameMs")
    long_tasks: list[float] = await page.evaluate("window.__long")
    shown = await page.evaluate("document.querySelectorAll('.wall-card').length")
    stop.set()
    with contextlib.suppress(Exception):
        await sock
    await pw.stop()
    await producer.stop()
    await app.stop()
    broker.stop()
    print(f"wall bench: calls={calls} rate={rate}/s/call seconds={seconds} records sent={sent} "
          f"({sent / elapsed:.0f}/s) cards shown={shown}")
    print(f"wall socket: {counts['messages']:.0f} messages ({counts['messages'] / elapsed:.1f}/s), "
          f"{counts['bytes'] / 1024:.0f} KiB ({counts['bytes'] / 1024 / elapsed:.1f} KiB/s), "
          f"{counts['rows']:.0f} rows ({counts['rows'] / elapsed:.0f}/s)")
    if render_ms:
        print(f"wall render (chromium, 1920x1080): {len(render_ms)} renders, p50 {statistics.median(render_ms):.1f} ms, "
              f"p95 {_pct(render_ms, 95):.1f} ms, max {max(render_ms):.1f} ms")
    if frame_ms:
        print(f"wall update to next frame (render + style + layout + paint): p50 {statistics.median(frame_ms):.1f} ms, "
              f"p95 {_pct(frame_ms, 95):.1f} ms, max {max(frame_ms):.1f} ms")
    print(f"long tasks (>50 ms): {len(long_tasks)}" + (f", longest {max(long_tasks):.0f} ms" if long_tasks else ""))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--rate", type=float, default=1.0, help="records per second per call")
    p.add_argument("--seconds", type=float, default=20.0)
    a = p.parse_args()
    asyncio.run(run(a.calls, a.rate, a.seconds))


if __name__ == "__main__":
    main()
