"""``callassist demo``: the whole system on one machine, on the embedded defaults.

Starts the embedded broker (or, with ``--broker kafka``, Apache Kafka in KRaft mode on a durable
data dir under ``var/kafka-demo``: needs Java and ``make kafka``), creates the topics, starts every component as its own
process (as production runs them, one per Deployment), waits until each is ready,
replays the bundled sample call in real time, prints where the panels are, and shuts
everything down cleanly on Ctrl-C / SIGTERM (or after the replay with ``--exit-after``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from streams.platform.broker import EmbeddedBroker, die_with_parent, free_port
from streams.platform.kafka_broker import KafkaCluster
from streams.platform.kafka_clients import ensure_topics
from streams.platform.settings import CommonSettings

log = logging.getLogger("callassist.demo")

# The UI's demo users (documented tokens); production supplies its own users file.
DEMO_USERS_FILE = Path(__file__).resolve().parents[1] / "assist_ui" / "demo_users.json"
SAMPLES = Path(__file__).with_name("samples")
SAMPLE_CALL = [SAMPLES / "auto_repairs_40_agent.wav", SAMPLES / "auto_repairs_40_caller.wav"]


class DemoSettings(CommonSettings):
    ui_host: str = "127.0.0.1"
    ui_port: int = Field(8080, description="Port of the agent panel / QA / supervisor pages")
    ingest_port: int = Field(8090, description="Port of the audio ingest websocket gateway")
    demo_ingest_token: str = Field("demo-ingest-token", description="Shared secret of the demo's ingest gateway")
    ready_timeout_s: float = Field(180.0, description="How long to wait for every component to be ready")


@dataclass
class Component:
    name: str
    module: str  # the package that must exist for the component to be started
    proc: subprocess.Popen[bytes] | None = None
    metrics_port: int = 0
    log_path: Path | None = None


COMPONENTS = [
    Component("ui", "assist_ui.cli"),
    Component("streams", "streams.cli"),
    Component("emotion", "pipeline.emotion.cli"),
    Component("recordings", "pipeline.recordings.cli"),
    Component("asr", "pipeline.asr.cli"),
    Component("ingest", "pipeline.ingest.cli"),
]


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def _child_env(settings: DemoSettings, broker: EmbeddedBroker | KafkaCluster, comp: Component) -> dict[str, str]:
    # The children read their settings from CALLASSIST_* like any deployment would.
    env = dict(os.environ)
    env.update(
        {
            "CALLASSIST_BROKER_URL": broker.url,
            "CALLASSIST_BROKER_EMBEDDED": "true" if isinstance(broker, EmbeddedBroker) else "false",
            "CALLASSIST_METRICS_PORT": str(comp.metrics_port),
            "CALLASSIST_DATA_DIR": str(settings.data_dir),
            "CALLASSIST_UI_HOST": settings.ui_host,
            "CALLASSIST_UI_PORT": str(settings.ui_port),
            "CALLASSIST_INGEST_PORT": str(settings.ingest_port),
            "CALLASSIST_INGEST_TOKENS": settings.demo_ingest_token,
            "CALLASSIST_UI_USERS_FILE": str(DEMO_USERS_FILE),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


class Demo:
    def __init__(
        self, settings: DemoSettings, log_dir: Path, extra_env: dict[str, str] | None = None, broker: str = "tansu"
    ) -> None:
        self.settings = settings
        self.extra_env = dict(extra_env or {})  # more CALLASSIST_* settings for every component
        self.log_dir = log_dir
        self.broker_kind = broker
        self.broker: EmbeddedBroker | KafkaCluster
        if broker == "kafka":
            self.broker = KafkaCluster(settings.data_dir / "kafka-demo")
        else:
            self.broker = EmbeddedBroker(log_file=log_dir / "broker.log")
        self.components = [Component(c.name, c.module) for c in COMPONENTS if _available(c.module)]
        self._stopping = False

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.broker.start()
        embedded = isinstance(self.broker, EmbeddedBroker)
        print(f"{'embedded broker' if embedded else 'Apache Kafka (KRaft)'} on {self.broker.url}", flush=True)
        topic_settings = self.settings.model_copy(update={"broker_url": self.broker.url, "broker_embedded": embedded})
        asyncio.run(ensure_topics(topic_settings))
        for comp in self.components:
            comp.metrics_port = free_port()
            comp.log_path = self.log_dir / f"{comp.name}.log"
            with open(comp.log_path, "ab") as out:
                comp.proc = subprocess.Popen(
                    [sys.executable, "-m", "pipeline.cli", comp.name],
                    env={**_child_env(self.settings, self.broker, comp), **self.extra_env},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=die_with_parent,
                )
            print(f"started {comp.name:<8} pid {comp.proc.pid}  metrics http://127.0.0.1:{comp.metrics_port}/metrics",
                  flush=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.ready_timeout_s
        pending = {c.name: c for c in self.components}
        while pending and time.monotonic() < deadline:
            for name, comp in list(pending.items()):
                assert comp.proc is not None
                if comp.proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {comp.proc.returncode}; see {comp.log_path}")
                if _ready(comp.metrics_port):
                    print(f"ready   {name}", flush=True)
                    del pending[name]
            time.sleep(0.3)
        if pending:
            raise RuntimeError(f"not ready after {self.settings.ready_timeout_s:.0f} s: {', '.join(pending)}")

    def check_alive(self) -> None:
        for comp in self.components:
            if comp.proc is not None and comp.proc.poll() is not None:
                raise RuntimeError(f"{comp.name} exited with code {comp.proc.returncode}; see {comp.log_path}")

    def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        # Stop producers of data first, the broker last, so every process drains cleanly.
        for comp in reversed(self.components):
            if comp.proc is not None and comp.proc.poll() is None:
                comp.proc.send_signal(signal.SIGTERM)
        for comp in reversed(self.components):
            if comp.proc is None:
                continue
            try:
                comp.proc.wait(20)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within 20 s, killing it", comp.name)
                comp.proc.kill()
                comp.proc.wait()
        self.broker.stop()
        print("demo stopped", flush=True)


def _print_urls(settings: DemoSettings) -> None:
    base = f"http://{settings.ui_host}:{settings.ui_port}"
    print("", flush=True)
    print("callassist demo is running:", flush=True)
    print(f"  agent panel      {base}/agent.html    (agent-1 Li Na, token: demo-agent-1-token)", flush=True)
    print(f"  supervisor wall  {base}/supervisor.html  (token: demo-supervisor-token)", flush=True)
    print(f"  QA review        {base}/qa.html       (token: demo-qa-reviewer-token)", flush=True)
    print(f"  audio ingest     ws://127.0.0.1:{settings.ingest_port}/calls  (token {settings.demo_ingest_token};"
          " docs/ingest.md)", flush=True)
    print("Press Ctrl-C to stop.", flush=True)


def _replay(settings: DemoSettings, broker: EmbeddedBroker | KafkaCluster, speed: float, call_index: int) -> None:
    """Replay the sample call through the websocket gateway, as a media server would stream it."""
    from pipeline.ingest.replay import replay_call
    from pipeline.ingest.settings import IngestSettings

    common = settings.model_dump(include=set(CommonSettings.model_fields))
    embedded = isinstance(broker, EmbeddedBroker)
    replay_settings = IngestSettings(**{**common, "broker_url": broker.url, "broker_embedded": embedded})
    call_id = f"demo-{time.strftime('%H%M%S')}-{call_index}"
    print(f"replaying the sample call as {call_id} (speed x{speed:g}) ...", flush=True)
    asyncio.run(
        replay_call(
            replay_settings,
            [str(p) for p in SAMPLE_CALL],
            speed=speed,
            call_id=call_id,
            agent_id="agent-1",
            customer_id="customer-42",
            queue="service",
            language="en",
            url=f"ws://127.0.0.1:{settings.ingest_port}/calls",
            token=settings.demo_ingest_token,
        )
    )
    print(f"call {call_id} ended", flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="callassist demo", description=__doc__)
    parser.add_argument("--speed", type=float, default=1.0, help="replay speed (1 = real time)")
    parser.add_argument("--calls", type=int, default=1, help="how many times to replay the sample call")
    parser.add_argument("--no-replay", action="store_true", help="start the system but replay nothing")
    parser.add_argument("--exit-after", action="store_true", help="stop after the replays (for scripts)")
    parser.add_argument(
        "--broker", choices=("tansu", "kafka"), default="tansu",
        help="tansu: the embedded broker (default, memory only); kafka: Apache Kafka 4.x KRaft, durable (Java, make kafka)",
    )
    args = parser.parse_args(argv)

    settings = DemoSettings()
    demo = Demo(settings, settings.data_dir / "demo-logs", broker=args.broker)

    def _on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Explicit, also for SIGINT: a shell that starts the demo in the background ignores SIGINT,
    # and Python then installs no KeyboardInterrupt handler.
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        demo.start()
        _print_urls(settings)
        if not args.no_replay and _available("pipeline.ingest.replay"):
            for i in range(args.calls):
                _replay(settings, demo.broker, args.speed, i)
                demo.check_alive()
        if args.exit_after:
            time.sleep(3)  # let the last records reach the panels and the QA store
            return 0
        while True:
            time.sleep(1)
            demo.check_alive()
    except KeyboardInterrupt:
        return 0
    except RuntimeError as exc:
        print(f"callassist demo: {exc}", file=sys.stderr)
        return 1
    finally:
        demo.stop()
