"""Benchmark: record produced to Kafka → on the agent's socket / on the agent's screen.

    python -m bench.ui_fanout [--calls 50] [--rate 4] [--seconds 20] [--browser]

Starts the embedded broker and a UI server (live bridge on), opens one websocket per call
(one agent per call), produces transcript finals and alerts for every call at ``--rate``
records per second per call, and prints latency percentiles from the record's
``produced_at`` to its arrival on the agent's socket.  With ``--browser`` one of the agents
is a real chromium page, and the time until the text is in its DOM is measured too.
Numbers depend on the machine: say how many cores were free when you quote them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from assist_ui.app import UiApp
from assist_ui.settings import UiSettings
from streams.contract.records import Alert, CallEvent, TranscriptSegment
from streams.platform.broker import EmbeddedBroker
from streams.platform.kafka_clients import make_producer, start_client

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def _report(name: str, values: list[float]) -> None:
    if not values:
        print(f"{name}: no samples")
        return
    ms = [v * 1000 for v in values]
    print(f"{name}: n={len(ms)} p50={_pct(ms, 50):.1f} ms p95={_pct(ms, 95):.1f} ms "
          f"p99={_pct(ms, 99):.1f} ms max={max(ms):.1f} ms mean={statistics.fmean(ms):.1f} ms")


async def _agent(port: int, token: str, lat: dict[str, list[float]], stop: asyncio.Event) -> None:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        await ws.send(json.dumps({"op": "auth", "token": token}))
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            msg = json.loads(raw)
            if msg.get("type") == "update" and msg["kind"] in ("segment", "alert"):
                lat[msg["kind"]].append(now - msg["item"]["produced_at"])


_OBSERVER = """() => {
  window.__lat = [];
  const seen = new Set();  // the alert list is re-rendered: count each record's first appearance only
  new MutationObserver(() => {
    document.querySelectorAll('#transcript .seg-text, #alerts .alert-msg').forEach((n) => {
      const m = /@(\\d+\\.\\d+)/.exec(n.textContent);
      if (!m || seen.has(m[1])) return;
      seen.add(m[1]);
      window.__lat.push(Date.now() / 1000 - Number(m[1]));
    });
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


async def run(calls: int, rate: float, seconds: float, browser: bool) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ui-bench-"))
    broker = EmbeddedBroker()
    broker.start()
    tokens = {f"bench-agent-{i}": f"bench-token-{i:04d}-{uuid.uuid4().hex[:8]}" for i in range(calls)}
    users = {"users": [{"id": u, "role": "agent", "token": t} for u, t in tokens.items()]}
    values: dict[str, Any] = {
        name: f"{getattr(UiSettings(), name)}.bench" for name in UiSettings.model_fields if name.startswith("topic_")
    }
    values.update(broker_url=broker.url, broker_embedded=True, data_dir=tmp, ui_port=0, ui_users_json=json.dumps(users),
                  ui_consumer_start="latest", ui_sink_enabled=False, partitions=4)
    settings = UiSettings(**values)
    app = UiApp(settings)
    await app.start()
    await asyncio.wait_for(app.bridge_ready.wait(), 30)
    lat: dict[str, list[float]] = {"segment": [], "alert": []}
    stop = asyncio.Event()
    agents = [asyncio.create_task(_agent(app.server.port, t, lat, stop)) for t in tokens.values()]
    pw: Any = None
    page: Any = None
    if browser:
        from playwright.async_api import async_playwright

        pw = await async_playwright().start()
        chromium = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = await chromium.new_page()
        await page.goto(app.server.url + "/agent")
        await page.fill("#signin input[name=token]", tokens["bench-agent-0"])
        await page.click("#signin button[type=submit]")
        await page.wait_for_selector("#app:not([hidden])")
        await page.evaluate(_OBSERVER)
    producer = make_producer(settings, linger_ms=0)
    await start_client(producer, settings)
    t0 = time.time()
    for i, agent in enumerate(tokens):
        ev = CallEvent(call_id=f"bench-{i}", kind="started", ts=t0, agent_id=agent)
        await producer.send(settings.topic_events, ev.to_bytes(), key=ev.call_id.encode())
    await producer.flush()
    await asyncio.sleep(1.0)
    sent = 0
    interval = 1.0 / rate
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < seconds:
        tick = time.monotonic()
        for i in range(calls):
            now = time.time()
            call_id = f"bench-{i}"
            if n % 5 == 4:  # one record in five is a compliance alert
                rec: Any = Alert(call_id=call_id, alert_id=f"a{n}", rule_id="bench.rule", rule_kind="forbidden",
                                 severity="high", channel="agent", message=f"alert {n} @{now:.6f}", produced_at=now)
                topic = settings.topic_alerts
            else:
                rec = TranscriptSegment(call_id=call_id, channel="customer", segment_id=f"{call_id}:{n}",
                                        is_final=True, start=float(n), end=n + 0.9,
                                        text=f"segment {n} of the benchmark call @{now:.6f}", produced_at=now)
                topic = settings.topic_transcripts
            await producer.send(topic, rec.to_bytes(), key=call_id.encode())
            sent += 1
        n += 1
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - tick)))
    await producer.flush()
    await asyncio.sleep(2.0)
    stop.set()
    await asyncio.gather(*agents, return_exceptions=True)
    dom = await page.evaluate("window.__lat") if page is not None else []
    if pw is not None:
        await pw.stop()
    await producer.stop()
    await app.stop()
    broker.stop()
    print(f"calls={calls} rate={rate}/s/call seconds={seconds} records sent={sent} "
          f"received={len(lat['segment']) + len(lat['alert'])} dropped clients="
          f"{app.metrics.clients_dropped._value.get():.0f}")
    _report("kafka -> agent socket, transcript finals", lat["segment"])
    _report("kafka -> agent socket, alerts", lat["alert"])
    if browser:
        _report("kafka -> chromium DOM (one agent)", dom)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--calls", type=int, default=50)
    p.add_argument("--rate", type=float, default=2.0, help="records per second per call")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--browser", action="store_true")
    a = p.parse_args()
    asyncio.run(run(a.calls, a.rate, a.seconds, a.browser))


if __name__ == "__main__":
    main()
