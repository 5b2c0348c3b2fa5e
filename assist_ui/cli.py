"""``callassist ui``: the agent panel, supervisor wall and QA review server.

    callassist ui [run] [--host H] [--port P] [--users-file F] [--db-url URL]
    callassist ui sink                  only the qa.calls → QA store sink
    callassist ui migrate               create/upgrade the QA store schema and exit
    callassist ui hash-token            read a token on stdin, print its token_sha256
    callassist ui sample [--language zh|en] [--agent ID] [--speed X]
                                        publish a scripted call to the topics (try the panels
                                        without audio or models)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from typing import Any

from assist_ui.auth import UsersFileError, hash_token
from assist_ui.settings import UiSettings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callassist ui", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("command", nargs="?", default="run", choices=["run", "sink", "migrate", "hash-token", "sample"])
    p.add_argument("--host", help="listen address (CALLASSIST_UI_HOST)")
    p.add_argument("--port", type=int, help="listen port (CALLASSIST_UI_PORT)")
    p.add_argument("--users-file", help="users JSON file (CALLASSIST_UI_USERS_FILE)")
    p.add_argument("--db-url", help="postgresql:// URL of the QA store (CALLASSIST_UI_DB_URL); default SQLite")
    p.add_argument("--language", choices=["zh", "en"], default="zh", help="sample: which scripted call")
    p.add_argument("--agent", default="agent-1", help="sample: the agent id the call is assigned to")
    p.add_argument("--call-id", default="", help="sample: call id (default: a new one)")
    p.add_argument("--speed", type=float, default=1.0, help="sample: 1 = real time, 0 = as fast as possible")
    return p


def _settings(args: argparse.Namespace, **extra: Any) -> UiSettings:
    overrides: dict[str, Any] = {k: v for k, v in {
        "ui_host": args.host, "ui_port": args.port, "ui_users_file": args.users_file, "ui_db_url": args.db_url,
    }.items() if v is not None}
    return UiSettings(**overrides, **extra)


def _run(settings: UiSettings) -> int:
    """The server under run_service (registry, shared series, /metrics, signals, exit code)."""
    from streams.platform.service import run_service

    def banner(service: _UiService) -> str:
        url = service.app.server.url
        return f"callassist ui: {url}/  (agent {url}/agent, supervisor {url}/supervisor, QA {url}/qa)"

    return run_service(
        lambda registry: _UiService(settings, registry),
        component="ui",
        metrics_host=settings.metrics_host,
        metrics_port=settings.metrics_port,
        banner=banner,
    )


class _UiService:
    """:class:`~assist_ui.app.UiApp` in run_service's start / run / stop."""

    def __init__(self, settings: UiSettings, registry: Any) -> None:
        from assist_ui.app import UiApp

        self.app = UiApp(settings, registry)

    def ready(self) -> bool:
        return self.app.is_ready()

    async def start(self) -> None:
        await self.app.start()

    async def run(self) -> None:
        await self.app.stop_event.wait()

    def request_stop(self) -> None:
        self.app.stop_event.set()

    async def stop(self) -> None:
        await self.app.stop()


async def _migrate(settings: UiSettings) -> int:
    from assist_ui.store import make_store

    store = make_store(settings)
    await store.open()
    try:
        print(f"{store!r}: schema version {await store.schema_version()}")
    finally:
        await store.close()
    return 0


async def _sample(settings: UiSettings, args: argparse.Namespace) -> int:
    import time
    import uuid

    from assist_ui.samples import sample_call
    from streams.platform.kafka_clients import ensure_topics, make_producer, start_client

    if args.speed < 0:
        raise ValueError("--speed must be 0 (as fast as possible) or more")
    call_id = args.call_id or f"sample-{args.language}-{uuid.uuid4().hex[:6]}"
    steps = sample_call(call_id, args.agent, args.language, time.time())
    if settings.create_topics:
        await ensure_topics(settings)
    producer = make_producer(settings)
    await start_client(producer, settings)
    try:
        elapsed = 0.0
        for step in steps:
            if args.speed and step.at > elapsed:
                await asyncio.sleep((step.at - elapsed) * args.speed)
                elapsed = step.at
            topic = getattr(settings, f"topic_{step.topic}")
            await producer.send_and_wait(topic, step.record.to_bytes(), key=call_id.encode())
    finally:
        await producer.stop()
    print(f"published {len(steps)} records of {call_id} (agent {args.agent})")
    return 0


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    if args.command == "hash-token":
        # read from stdin (or a prompt), never argv: argv shows up in `ps` and shell history
        token = sys.stdin.readline().strip() if not sys.stdin.isatty() else getpass.getpass("token: ")
        if len(token) < 16:
            print("callassist ui: a token needs at least 16 characters", file=sys.stderr)
            return 2
        print(hash_token(token))
        return 0
    try:
        if args.command == "migrate":
            return asyncio.run(_migrate(_settings(args)))
        if args.command == "sample":
            return asyncio.run(_sample(_settings(args), args))
        if args.command == "sink":
            settings = _settings(args, ui_bridge_enabled=False, ui_port=0, ui_host="127.0.0.1")
            return _run(settings)
        return _run(_settings(args))
    except (UsersFileError, ValueError) as exc:
        print(f"callassist ui: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"callassist ui: {exc}", file=sys.stderr)
        return 1
