"""``callassist ingest``: the audio gateway, and ``callassist ingest replay FILE...``.

callassist ingest [serve]
callassist ingest replay FILE [FILE] [--speed N] [--call-id ID] [--agent-id ID] [--customer-id ID]
                              [--queue Q] [--language zh|en] [--url ws://HOST:PORT/calls | --kafka]
                              [--token T] [--chunk-ms MS]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from pipeline.ingest.files import AudioFileError
from pipeline.ingest.replay import ReplayError, replay_call
from pipeline.ingest.server import ConfigError
from pipeline.ingest.settings import IngestSettings

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="callassist ingest", description="Call audio gateway and file replay.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the websocket gateway (the default)")
    r = sub.add_parser("replay", help="replay a recorded call as a live one")
    r.add_argument(
        "files", nargs="+", metavar="FILE", help="one stereo file (L=agent, R=customer) or two mono"
    )
    r.add_argument("--speed", type=float, default=1.0, help="1 = real time, 4 = 4x faster, 0 = no pacing")
    r.add_argument("--call-id", default=None)
    r.add_argument("--agent-id", default="")
    r.add_argument("--customer-id", default="")
    r.add_argument("--queue", default="")
    r.add_argument("--language", default="", help="zh, en or empty (detect)")
    where = r.add_mutually_exclusive_group()
    where.add_argument("--url", default=None, help="gateway websocket URL, e.g. ws://127.0.0.1:8090/calls")
    where.add_argument("--kafka", action="store_true", help="produce straight to Kafka (the default)")
    r.add_argument("--token", default=None, help="ingest token (default: first of CALLASSIST_INGEST_TOKENS)")
    r.add_argument("--chunk-ms", type=int, default=None, help="audio per message (default 100)")
    return p


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    try:
        settings = IngestSettings()  # type: ignore[call-arg]  # (pydantic-settings reads the env)
    except ValidationError as exc:
        print(f"callassist ingest: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    if args.command == "replay":
        if args.speed < 0:
            print("callassist ingest replay: --speed must be >= 0", file=sys.stderr)
            return 2
        try:
            result = asyncio.run(
                replay_call(
                    settings,
                    args.files,
                    speed=args.speed,
                    call_id=args.call_id,
                    agent_id=args.agent_id,
                    customer_id=args.customer_id,
                    queue=args.queue,
                    language=args.language,
                    url=args.url,
                    token=args.token,
                    chunk_ms=args.chunk_ms,
                )
            )
        except (AudioFileError, ReplayError) as exc:
            print(f"callassist ingest replay: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:  # connection refused and friends
            print(f"callassist ingest replay: cannot reach {args.url}: {exc}", file=sys.stderr)
            return 1
        print(result.to_json())
        return 0 if not result.errors else 1
    try:
        return asyncio.run(serve(settings))
    except ConfigError as exc:
        print(f"callassist ingest: {exc}", file=sys.stderr)
        return 2


async def serve(settings: IngestSettings) -> int:
    from prometheus_client import CollectorRegistry

    from pipeline.ingest.service import IngestService
    from streams.platform.observability import serve_metrics

    registry = CollectorRegistry()
    service = IngestService(settings, registry)
    # /healthz answers while the broker connection is made; /readyz only once calls are accepted
    metrics_server = serve_metrics(registry, settings.metrics_host, settings.metrics_port, service.ready)
    try:
        await service.start()
    except BaseException:
        if metrics_server is not None:
            metrics_server.stop()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    print(f"callassist ingest: listening on {service.url}", flush=True)
    try:
        await stop.wait()
        log.info("shutting down: ending open calls")
    finally:
        await service.stop()
        if metrics_server is not None:
            metrics_server.stop()
    return 0
