"""The ``callassist`` command: one subcommand per component.

Each component owns its own ``main(argv) -> int``; this module only dispatches, sets up
logging, and turns known start-up failures into a clear message and a non-zero exit.
Imports are lazy so ``callassist ui`` never loads Whisper, and a missing optional part
cannot break the others.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("pipeline.demo", "run everything on the embedded defaults and replay the sample call"),
    "broker": ("streams.platform.broker_cli", "start the embedded Kafka-protocol broker (Tansu) and print its URL"),
    "ingest": ("pipeline.ingest.cli", "call audio gateway (websocket) and file replay into Kafka"),
    "asr": ("pipeline.asr.cli", "streaming transcription worker; `asr transcribe FILE...` offline"),
    "emotion": ("pipeline.emotion.cli", "prosody emotion worker; `emotion score|evaluate` offline"),
    "recordings": ("pipeline.recordings.cli", "recording sink: calls.audio -> FLAC per call for QA playback"),
    "streams": ("streams.cli", "Faust stream processors; `streams check TRANSCRIPT.jsonl` offline"),
    "ui": ("assist_ui.cli", "agent panel, supervisor wall, QA review (websockets + pages)"),
    "bench": ("bench.cli", "whole-pipeline benchmark on the embedded defaults"),
}

# subcommands whose code lives in a higher layer than their component (the KB report reads the
# UI's QA store): the dispatcher, above both, routes them
ROUTED: dict[tuple[str, str], str] = {("streams", "kb-report"): "assist_ui.kb_report_cli"}


def usage() -> str:
    lines = ["usage: callassist COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_mod, help_) in COMMANDS.items()]
    lines += ["", "Settings come from CALLASSIST_* environment variables (see README.md)."]
    return "\n".join(lines)


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from streams.platform.log_scrub import install_on_handlers

    install_on_handlers()  # no secret reaches the log from any logger (#18)
    # aiokafka logs every reconnect attempt at ERROR; our own messages say what matters.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    logging.getLogger("faust").setLevel(max(logging.WARNING, logging.getLogger().level))
    logging.getLogger("mode").setLevel(max(logging.WARNING, logging.getLogger().level))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"callassist: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[name][0]
    if rest and (name, rest[0]) in ROUTED:
        module_name, rest = ROUTED[(name, rest[0])], rest[1:]
    from streams.platform.settings import CommonSettings

    setup_logging(CommonSettings().log_level)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            print(f"callassist: the {name!r} component is not part of this build", file=sys.stderr)
            return 2
        raise
    from streams.platform.broker import BrokerError
    from streams.platform.kafka_clients import BrokerUnavailable
    from streams.platform.settings import BrokerNotConfigured

    try:
        return int(module.main(rest) or 0)
    except (BrokerError, BrokerUnavailable, BrokerNotConfigured) as exc:
        print(f"callassist {name}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
