"""``callassist ingest``: the audio gateway, and ``callassist ingest replay FILE...``.

callassist ingest [serve]
callassist ingest replay FILE [FILE] [--speed N] [--call-id ID] [--agent-id ID] [--customer-id ID]
                              [--queue Q] [--language zh|en] [--url ws://HOST:PORT/calls | --kafka]
                              [--token T] [--chunk-ms MS]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
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
    return serve(settings)


def serve(settings: IngestSettings) -> int:
    """The gateway under run_service (registry, shared series, /metrics, signals, exit code)."""
    from pipeline.ingest.service import IngestService
    from streams.platform.service import run_service

    return run_service(
        lambda registry: IngestService(settings, registry),
        component="ingest",
        metrics_host=settings.metrics_host,
        metrics_port=settings.metrics_port,
        banner=lambda service: f"callassist ingest: listening on {service.url}",
        usage_errors=(ConfigError,),  # auth misconfigured: the message, exit 2
    )
