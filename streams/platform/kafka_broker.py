"""Apache Kafka (KRaft) started by callassist: 1 or 3 nodes on loopback ports, durable data dir.

Used by ``callassist broker --kafka``, ``callassist demo --broker kafka``, the test suite's Kafka
fixtures and ``callassist bench --broker kafka``.  Production never starts it (Strimzi does).

The jars come from Maven Central, fetched once by ``make kafka`` (java/kafka-broker/pom.xml,
scripts/fetch-kafka.sh) into a git-ignored cache; nothing is downloaded here.  Each node runs
``kafka.Kafka`` in combined mode (broker + controller), in its own process group with
PDEATHSIG, so a crashed parent never leaves a JVM behind (as for Tansu, streams.platform.broker).

A node keeps its ports across restart() (clients and the other voters know it by them): the
data directory is durable, so a restarted node comes back with every record it had.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from streams.platform.broker import BrokerError, free_port, kafka_metadata_brokers, spawn_supervised

log = logging.getLogger(__name__)

# Keep in step with java/kafka-broker/pom.xml (kafka.version) and k8s/base/kafka/kafka.yaml.
KAFKA_VERSION = "4.1.1"
REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_HINT = "run `make kafka` (fetches Apache Kafka from Maven Central into var/kafka/)"

# Small heap, serial GC: a test broker holds little data, and the machine is shared.
DEFAULT_JVM_OPTS = ["-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-Djava.awt.headless=true"]

_LOG4J2 = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.state.name = state.change.logger
logger.state.level = WARN
logger.req.name = kafka.request.logger
logger.req.level = WARN
"""


def default_libs_dir(version: str = KAFKA_VERSION) -> Path:
    return REPO_ROOT / "var" / "kafka" / version / "libs"


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise BrokerError("no `java` on PATH: Apache Kafka needs a JDK/JRE 17+ (Debian: apt-get install openjdk-17-jre-headless)")
    return java


def check_libs(libs_dir: Path, version: str = KAFKA_VERSION) -> None:
    """Fail clearly when the jar cache is missing or incomplete (never a JVM stack trace)."""
    core = libs_dir / f"kafka_2.13-{version}.jar"
    if not libs_dir.is_dir() or not core.is_file():
        raise BrokerError(f"Apache Kafka {version} jars not found in {libs_dir}: {FETCH_HINT}")
    manifest = libs_dir.parent / "SHA256SUMS"
    if not manifest.is_file():
        raise BrokerError(f"jar cache {libs_dir} has no SHA256SUMS (interrupted fetch?): {FETCH_HINT}")


def new_cluster_id() -> str:
    """A KRaft cluster id: a UUID, URL-safe base64 without padding (what kafka-storage random-uuid prints).

    Never one that starts with "-" (1 UUID in 64 does): ``kafka-storage format -t -1FT…`` reads it as
    an option and fails ("expected one argument"); Kafka's own Uuid.randomUuid() redraws such ids too."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class KafkaNode:
    node_id: int
    port: int
    controller_port: int
    dir: Path
    proc: subprocess.Popen[bytes] | None = None
    log_handle: IO[bytes] | None = field(default=None, repr=False)

    @property
    def log_path(self) -> Path:
        return self.dir / "server.log"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class KafkaCluster:
    """``nodes`` KRaft nodes (combined broker+controller) under ``data_dir``; start()/stop() or ``with``.

    A data dir that already holds a cluster (cluster.json) is reused: same cluster id, same
    records; ports are kept when free, else new ones are picked.
    """

    def __init__(
        self,
        data_dir: Path,
        nodes: int = 1,
        host: str = "127.0.0.1",
        libs_dir: Path | None = None,
        ready_timeout: float = 90.0,
        min_insync_replicas: int | None = None,
        jvm_opts: list[str] | None = None,
        extra_config: dict[str, str] | None = None,
    ) -> None:
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        self.data_dir = Path(data_dir)
        self.host = host
        self.libs_dir = libs_dir or default_libs_dir()
        self.ready_timeout = ready_timeout
        self.replication = min(nodes, 3)
        self.min_insync_replicas = min_insync_replicas if min_insync_replicas is not None else min(2, nodes)
        self.jvm_opts = jvm_opts or DEFAULT_JVM_OPTS
        self.extra_config = extra_config or {}
        self.count = nodes
        self.nodes: list[KafkaNode] = []
        self.cluster_id = ""

    # -- addresses ----------------------------------------------------------
    @property
    def url(self) -> str:
        return ",".join(f"{self.host}:{n.port}" for n in self.nodes)

    def node(self, node_id: int) -> KafkaNode:
        return next(n for n in self.nodes if n.node_id == node_id)

    def running(self) -> bool:
        return bool(self.nodes) and all(n.running() for n in self.nodes)

    @property
    def pid(self) -> int | None:
        """The first node's JVM (what a one-node bench measures as "broker")."""
        return self.nodes[0].proc.pid if self.nodes and self.nodes[0].proc is not None else None

    def pids(self) -> list[int]:
        return [n.proc.pid for n in self.nodes if n.proc is not None]

    # -- life cycle -----------------------------------------------------------
    def start(self) -> str:
        java = find_java()
        check_libs(self.libs_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        last: BrokerError | None = None
        for attempt in range(3):  # a free port can be taken between probe and bind: retry on new ones
            self._layout(fresh_ports=attempt > 0)
            try:
                for node in self.nodes:
                    self._launch(java, node)
                self._wait_ready(self.nodes)
                log.info("Apache Kafka %s ready on %s (%d node(s))", KAFKA_VERSION, self.url, self.count)
                return self.url
            except BrokerError as exc:
                self.stop()
                if not any(_port_taken(n) for n in self.nodes):
                    raise
                last = exc
                log.warning("Kafka port taken, retrying on new ports: %s", exc)
        assert last is not None
        raise last

    def _layout(self, fresh_ports: bool) -> None:
        state_file = self.data_dir / "cluster.json"
        state = json.loads(state_file.read_text()) if state_file.is_file() else {}
        if state and state.get("nodes") != self.count:
            raise BrokerError(f"{self.data_dir} holds a {state['nodes']}-node cluster, not {self.count}: use another --data-dir")
        self.cluster_id = state.get("cluster_id") or new_cluster_id()
        saved = {int(k): v for k, v in state.get("ports", {}).items()}
        self.nodes = []
        for node_id in range(1, self.count + 1):
            port, cport = saved.get(node_id, (0, 0))
            if fresh_ports or not port or _in_use(self.host, port) or _in_use(self.host, cport):
                port, cport = free_port(self.host), free_port(self.host)
            self.nodes.append(KafkaNode(node_id, port, cport, self.data_dir / f"node-{node_id}"))
        state = {
            "cluster_id": self.cluster_id,
            "nodes": self.count,
            "version": KAFKA_VERSION,
            "ports": {n.node_id: [n.port, n.controller_port] for n in self.nodes},
        }
        state_file.write_text(json.dumps(state, indent=1))
        for node in self.nodes:
            self._configure(node)

    def _configure(self, node: KafkaNode) -> None:
        node.dir.mkdir(parents=True, exist_ok=True)
        voters = ",".join(f"{n.node_id}@{self.host}:{n.controller_port}" for n in self.nodes)
        rf = str(self.replication)
        config = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://{self.host}:{node.port},CONTROLLER://{self.host}:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(node.dir / "data"),
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": str(self.min_insync_replicas),
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": str(self.min_insync_replicas),
            "default.replication.factor": rf,
            "min.insync.replicas": str(self.min_insync_replicas),
            # Topics are created by callassist with the configured partitions/replication (no auto-creation).
            "auto.create.topics.enable": "false",
            # A test cluster: the first consumer-group join need not wait 3 s for more members.
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "2",
            "num.recovery.threads.per.data.dir": "1",
            "log.flush.interval.messages": "9223372036854775807",  # durability by replication + page cache, as upstream
            # Stop a restarted/failed-over leader from waiting long before clients see it.
            "replica.lag.time.max.ms": "10000",
            **self.extra_config,
        }
        (node.dir / "server.properties").write_text("".join(f"{k}={v}\n" for k, v in config.items()))
        (node.dir / "log4j2.properties").write_text(_LOG4J2.format(log=node.log_path))

    def _java_cmd(self, java: str, node: KafkaNode, main: list[str]) -> list[str]:
        return [
            java,
            *self.jvm_opts,
            f"-Dlog4j2.configurationFile={node.dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={node.dir}",
            "-cp",
            str(self.libs_dir / "*"),
            *main,
        ]

    def _format(self, java: str, node: KafkaNode) -> None:
        if (node.dir / "data" / "meta.properties").is_file():
            return  # durable: already formatted, keep its records
        cmd = self._java_cmd(
            java, node, ["kafka.tools.StorageTool", "format", "-t", self.cluster_id, "-c", str(node.dir / "server.properties")]
        )
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise BrokerError(f"kafka-storage format failed for node {node.node_id}: {(done.stderr or done.stdout).strip()[-800:]}")

    def _launch(self, java: str, node: KafkaNode) -> None:
        self._format(java, node)
        node.log_handle = open(node.dir / "stdout.log", "ab")  # noqa: SIM115 - closed in _close()
        cmd = self._java_cmd(java, node, ["kafka.Kafka", str(node.dir / "server.properties")])
        try:
            node.proc = spawn_supervised(cmd, stdout=node.log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise BrokerError(f"cannot run {java!r}: {exc}") from exc

    def _wait_ready(self, nodes: list[KafkaNode]) -> None:
        """Ready = every node answers Metadata and lists all the cluster's brokers."""
        deadline = time.monotonic() + self.ready_timeout
        pending = list(nodes)
        while pending and time.monotonic() < deadline:
            for node in list(pending):
                assert node.proc is not None
                code = node.proc.poll()
                if code is not None:
                    raise BrokerError(f"Kafka node {node.node_id} exited with code {code} before it was ready; see {node.log_path}: {_tail(node)}")
                if kafka_metadata_brokers(self.host, node.port, timeout=1.0) == self.count:
                    pending.remove(node)
            time.sleep(0.2)
        if pending:
            raise BrokerError(
                f"Kafka node(s) {[n.node_id for n in pending]} did not answer metadata within {self.ready_timeout:.0f} s; "
                f"see {pending[0].log_path}"
            )

    # -- faults -----------------------------------------------------------------
    def kill(self, node_id: int) -> None:
        """SIGKILL one node (a crash: no clean shutdown, no final flush)."""
        node = self.node(node_id)
        if node.proc is not None:
            os.killpg(node.proc.pid, signal.SIGKILL)
            node.proc.wait(10)
        node.proc = None
        _close(node)

    def restart(self, node_id: int) -> None:
        """Start a stopped/killed node again on its ports and data dir; returns when it is ready."""
        node = self.node(node_id)
        if node.running():
            return
        self._launch(find_java(), node)
        self._wait_ready([node])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM every node (a clean controlled shutdown), SIGKILL what is left after ``timeout``."""
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    os.killpg(node.proc.pid, signal.SIGKILL)
                    node.proc.wait(10)
                node.proc = None
            _close(node)

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _close(node: KafkaNode) -> None:
    if node.log_handle is not None:
        node.log_handle.close()
        node.log_handle = None


def _in_use(host: str, port: int) -> bool:
    from streams.platform.broker import port_in_use

    return port_in_use(host, port)


def _tail(node: KafkaNode, chars: int = 600) -> str:
    text = ""
    for path in (node.log_path, node.dir / "stdout.log"):
        if path.is_file():
            text += path.read_text(errors="replace")[-chars:]
    return text.strip()[-chars:]


def _port_taken(node: KafkaNode) -> bool:
    return "Address already in use" in _tail(node, 4000)
