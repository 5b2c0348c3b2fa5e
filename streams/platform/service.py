"""``run_service()``: the one bootstrap of every long-running callassist process.

Each process (ingest, asr, emotion, recordings, streams, ui) used to wire the same things by
hand, each a little differently: a ``CollectorRegistry``, the metrics/health server, signal
handlers, start, run, stop.  One had no shared series at all.  Here it is done once:

1. the registry (injected, or a fresh one) gets the shared series of the component
   (:class:`~streams.platform.metrics_catalogue.SharedSeries`), so every process serves them;
2. the service is built against that registry (``make(registry)``);
3. ``/metrics /healthz /readyz`` start *before* ``start()``: liveness answers while models load
   and the broker connects, readiness only once ``service.ready()`` says so, and never again
   from the moment a stop was asked for (drain);
4. SIGINT/SIGTERM ask the service to stop (``request_stop()``), which makes ``run()`` return;
5. ``stop()`` always runs, after a failed ``start()`` too, so a half-started service releases
   what it took;
6. the exit code says how it went: 0 stopped as asked (or ``run()`` ended by itself), 1 a
   failure in start/run/stop (logged with its traceback), 2 a usage error (one of
   ``usage_errors``: a clear message on stderr, no traceback).

An :class:`AsyncService` runs under ``asyncio.run``.  A :class:`BlockingService` owns its event
loop and its signals (the Faust worker: ``faust.Worker`` installs its own handlers and drains
itself); it gets the same registry, shared series, metrics server, exit codes and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar, cast

from prometheus_client import CollectorRegistry

from streams.platform.metrics_catalogue import install_shared_series
from streams.platform.observability import serve_metrics

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class AsyncService(Protocol):
    """What :func:`run_service` runs on an asyncio loop."""

    def ready(self) -> bool:
        """/readyz; called from the metrics thread, so cheap and without awaiting."""
        ...

    async def start(self) -> object:
        """Acquire everything (models, broker clients, sockets); fail here, not later."""
        ...

    async def run(self) -> None:
        """Do the work until :meth:`request_stop` was called (then return) or it fails (raise)."""
        ...

    def request_stop(self) -> None:
        """Ask :meth:`run` to return soon; sync (a signal handler calls it) and idempotent."""
        ...

    async def stop(self) -> None:
        """Release everything; idempotent, and safe after a failed or partial :meth:`start`."""
        ...


class BlockingService(Protocol):
    """A service that owns its loop and signals (Faust): ``run()`` blocks and returns an exit code."""

    def ready(self) -> bool: ...

    def start(self) -> object: ...

    def run(self) -> int: ...

    def stop(self) -> None: ...


S = TypeVar("S", bound=AsyncService | BlockingService)


def run_service(
    make: Callable[[CollectorRegistry], S],
    *,
    component: str,
    metrics_host: str = "127.0.0.1",
    metrics_port: int = 0,
    registry: CollectorRegistry | None = None,
    name: str | None = None,
    banner: Callable[[S], str] | None = None,
    usage_errors: tuple[type[BaseException], ...] = (),
    stop_timeout_s: float = 60.0,
) -> int:
    """Build, serve, start, run and stop one service; returns the process exit code.

    ``metrics_port`` 0 serves no endpoint (tests, offline use).  ``banner`` is printed once
    started (the line scripts and people wait for).  ``stop_timeout_s`` bounds how long a
    stopping ``run()`` may take before it is cancelled.
    """
    name = name or f"callassist {component}"
    registry = registry if registry is not None else CollectorRegistry()
    install_shared_series(registry, component)
    service = make(registry)
    draining = threading.Event()  # set from the loop, read from the metrics thread

    def ready() -> bool:
        return not draining.is_set() and bool(service.ready())

    server = serve_metrics(registry, metrics_host, metrics_port, ready)
    try:
        if inspect.iscoroutinefunction(service.run):
            async_service = cast(AsyncService, service)  # the shape of run() tells the two kinds apart
            return asyncio.run(_lifecycle(async_service, draining, name, banner, usage_errors, stop_timeout_s))
        return _blocking_lifecycle(cast(BlockingService, service), draining, name, banner, usage_errors)
    finally:
        if server is not None:
            server.stop()


async def _lifecycle(
    service: AsyncService,
    draining: threading.Event,
    name: str,
    banner: Callable[..., str] | None,
    usage_errors: tuple[type[BaseException], ...],
    stop_timeout_s: float,
) -> int:
    loop = asyncio.get_running_loop()
    stop_asked = asyncio.Event()

    def on_signal(signum: int) -> None:
        log.info("%s: %s received, stopping", name, signal.Signals(signum).name)
        draining.set()
        stop_asked.set()
        service.request_stop()

    installed = []
    for sig in STOP_SIGNALS:
        # not on Windows, and not outside the main thread (a test may run a service in a thread)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
    code = EXIT_OK
    try:
        code = await _start_and_run(service, stop_asked, name, banner, usage_errors, stop_timeout_s)
    finally:
        draining.set()
        try:
            await service.stop()
        except Exception:
            log.exception("%s: stop failed", name)
            code = code or EXIT_FAILED
        for sig in installed:
            loop.remove_signal_handler(sig)
    return code


async def _start_and_run(
    service: AsyncService,
    stop_asked: asyncio.Event,
    name: str,
    banner: Callable[..., str] | None,
    usage_errors: tuple[type[BaseException], ...],
    stop_timeout_s: float,
) -> int:
    try:
        await service.start()
    except usage_errors as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:
        log.exception("%s: start failed", name)
        return EXIT_FAILED
    if stop_asked.is_set():  # a signal came while starting (a model load can take a while)
        return EXIT_OK
    if banner is not None:
        print(banner(service), flush=True)
    run = asyncio.create_task(service.run(), name=f"{name} run")
    asked = asyncio.create_task(stop_asked.wait(), name=f"{name} stop signal")
    try:
        await asyncio.wait({run, asked}, return_when=asyncio.FIRST_COMPLETED)
        if not run.done():  # asked to stop: request_stop() was called, give run() time to drain
            await asyncio.wait({run}, timeout=stop_timeout_s)
        if not run.done():
            log.error("%s: did not stop within %.0f s; cancelling", name, stop_timeout_s)
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run
            return EXIT_FAILED
    finally:
        asked.cancel()
    error = run.exception()
    if error is not None:
        log.error("%s: failed", name, exc_info=error)
        return EXIT_FAILED
    return EXIT_OK


def _blocking_lifecycle(
    service: BlockingService,
    draining: threading.Event,
    name: str,
    banner: Callable[..., str] | None,
    usage_errors: tuple[type[BaseException], ...],
) -> int:
    try:
        try:
            service.start()
        except usage_errors as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except Exception:
            log.exception("%s: start failed", name)
            return EXIT_FAILED
        if banner is not None:
            print(banner(service), flush=True)
        try:
            return service.run()
        except Exception:
            log.exception("%s: failed", name)
            return EXIT_FAILED
    finally:
        draining.set()
        try:
            service.stop()
        except Exception:
            log.exception("%s: stop failed", name)
