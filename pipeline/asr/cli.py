"""``callassist asr``: the streaming transcription worker and its offline commands.

callassist asr [run]                      live worker: calls.audio + calls.events -> calls.transcripts
callassist asr transcribe FILE... [opts]  final segments of recordings as JSON lines
callassist asr model                      assemble/verify the model, print its directory
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from pipeline.asr.loading import load_models

log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="callassist asr", description="Streaming transcription (faster-whisper)."
    )
    sub = p.add_subparsers(dest="cmd")
    sub.add_parser("run", help="run the live worker (the default)")
    t = sub.add_parser("transcribe", help="transcribe recordings; final segments as JSON lines on stdout")
    t.add_argument(
        "files", nargs="+", type=Path, metavar="FILE", help="WAV/FLAC; mono, or stereo = agent/customer"
    )
    t.add_argument("--language", default=None, help="force the language (else detected once per file)")
    t.add_argument(
        "--mono-channel", default="agent", choices=("agent", "customer"), help="channel name of mono files"
    )
    t.add_argument("--words", action="store_true", help="include word timings")
    t.add_argument(
        "--vocab",
        action="append",
        type=Path,
        metavar="FILE",
        help="domain vocabulary file (YAML, repeatable); replaces CALLASSIST_ASR_VOCAB_FILES",
    )
    t.add_argument("--no-vocab", action="store_true", help="no domain biasing (no prompt, no correction)")
    t.add_argument("--queue", default="", help="the calls' queue: picks that queue's vocabulary files (docs/asr.md)")
    sub.add_parser("model", help="assemble and verify the configured model; print its directory")
    return p


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from pipeline.asr.settings import AsrSettings

    try:
        settings = AsrSettings()
        settings.languages()
    except ValueError as exc:
        print(f"callassist asr: bad settings: {exc}", file=sys.stderr)
        return 2
    if args.cmd == "transcribe":
        return _transcribe(settings, args)
    if args.cmd == "model":
        return _model(settings)
    return _run_worker(settings)


def _run_worker(settings) -> int:
    """The live worker under run_service (registry, shared series, /metrics, signals, exit code)."""
    from streams.platform.service import run_service

    return run_service(
        lambda registry: _AsrService(settings, registry),
        component="asr",
        metrics_host=settings.metrics_host,
        metrics_port=settings.metrics_port,
    )


class _AsrService:
    """:class:`~pipeline.asr.worker.AsrWorker` in run_service's start / run / stop.

    ``start()`` loads the models (off the loop: explicit, fails before any broker work);
    ``run()`` is the worker's own connect-and-consume loop, which closes the worker (final
    checkpoint, then the clients) on its way out, so ``stop()`` has nothing left to release.
    """

    def __init__(self, settings, registry) -> None:
        self.settings, self.registry = settings, registry
        self.worker: Any = None  # an AsrWorker once the models are loaded

    def ready(self) -> bool:
        return self.worker is not None and self.worker.ready()

    async def start(self) -> None:
        from pipeline.asr.metrics import AsrMetrics
        from pipeline.asr.worker import AsrWorker

        self.settings.bootstrap_servers()  # no broker configured: fail now, not after loading the model
        engine, vad_factory = await asyncio.to_thread(load_models, self.settings)
        self.worker = AsrWorker(self.settings, engine, vad_factory, AsrMetrics(self.registry))

    async def run(self) -> None:
        await self.worker.run()

    def request_stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()  # drain: a final checkpoint, then commit

    async def stop(self) -> None:
        return None


def _model(settings) -> int:
    from models.whisper.resolve import ModelError, resolve_model

    try:
        resolved = resolve_model(settings.asr_model, settings.model_cache_dir(), verify_hash=True)
    except ModelError as exc:
        print(f"callassist asr: {exc}", file=sys.stderr)
        return 1
    print(resolved.path)
    return 0


def _transcribe(settings, args) -> int:
    from pipeline.asr.offline import AudioFileError, read_audio, segment_json, transcribe_files

    if args.no_vocab:
        settings = settings.model_copy(update={"asr_vocab_files": ""})
    elif args.vocab:
        missing = [p for p in args.vocab if not p.is_file()]
        if missing:
            print(f"callassist asr: {missing[0]}: no such vocabulary file", file=sys.stderr)
            return 1
        settings = settings.model_copy(update={"asr_vocab_files": ",".join(str(p) for p in args.vocab)})
    if args.language and args.language not in settings.languages():
        print(f"callassist asr: --language must be one of {settings.languages()}", file=sys.stderr)
        return 2
    for path in args.files:  # check every file before loading the model: fail fast, lose nothing
        try:
            read_audio(path, args.mono_channel)
        except AudioFileError as exc:
            print(f"callassist asr: {exc}", file=sys.stderr)
            return 1
    engine, vad_factory = load_models(settings)
    config = settings.transcriber_config(engine.device, partials=False)

    def done(_call_id: str, segments) -> None:
        for seg in segments:
            print(segment_json(seg, words=args.words), flush=True)

    asyncio.run(
        transcribe_files(
            args.files, engine, vad_factory, config, args.language, args.mono_channel, on_file_done=done,
            queue=args.queue,
        )
    )
    return 0
