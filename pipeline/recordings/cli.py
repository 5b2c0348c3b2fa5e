"""``callassist recordings``: run the recording sink (calls.audio → FLAC files per call).

callassist recordings [run]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from pipeline.recordings.settings import RecordingSettings


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="callassist recordings", description="Recording sink for QA playback.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="run the sink (the default)")
    p.parse_args(list(argv))
    try:
        settings = RecordingSettings()  # type: ignore[call-arg]
    except ValidationError as exc:
        print(f"callassist recordings: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve(settings))


async def serve(settings: RecordingSettings) -> int:
    from prometheus_client import CollectorRegistry

    from pipeline.recordings.worker import RecordingSink
    from streams.platform.observability import serve_metrics

    registry = CollectorRegistry()
    sink = RecordingSink(settings, registry)
    metrics_server = serve_metrics(registry, settings.metrics_host, settings.metrics_port, sink.ready)
    try:
        await sink.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, sink.stop)
        print(f"callassist recordings: writing to {settings.store_dir}", flush=True)
        await sink.run()
    finally:
        if metrics_server is not None:
            metrics_server.stop()
    return 0
