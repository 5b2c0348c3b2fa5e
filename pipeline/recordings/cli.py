"""``callassist recordings``: run the recording sink (calls.audio → FLAC files per call).

callassist recordings [run]
"""

from __future__ import annotations

import argparse
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
    return serve(settings)


def serve(settings: RecordingSettings) -> int:
    """The sink under run_service (registry, shared series, /metrics, signals, exit code)."""
    from pipeline.recordings.worker import RecordingSink
    from streams.platform.service import run_service

    return run_service(
        lambda registry: RecordingSink(settings, registry),
        component="recordings",
        metrics_host=settings.metrics_host,
        metrics_port=settings.metrics_port,
        banner=lambda _sink: f"callassist recordings: writing to {settings.store_dir}",
    )
