"""A TCP forwarder in front of a broker, to take the broker away from clients and give it back.

The embedded broker keeps its log in memory, so killing it would also delete every topic: that
is not what a production broker restart (durable storage) looks like to a client.  Instead the
broker advertises this proxy's address, so every client connection goes through it, and
:meth:`BrokerProxy.cut` makes the broker vanish for the clients (open connections reset, new
ones refused) while its data survives, then :meth:`BrokerProxy.restore` brings it back on the
same address, as a restarted broker with durable storage would come back.

It runs on its own event loop in a thread, so a test may block (urllib, time.sleep) without
stalling the traffic it forwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any


class BrokerProxy:
    def __init__(self, listen_port: int, target_host: str, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port = host, listen_port
        self.target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.connections = 0  # accepted since start: clients that came back after restore() count again

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> BrokerProxy:
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="broker-proxy", daemon=True).start()
        self._run(self._listen())
        return self

    def cut(self) -> None:
        """The broker goes away: refuse new connections and reset every open one."""
        self._run(self._cut())

    def restore(self) -> None:
        """The broker is back on the same address."""
        self._run(self._listen())

    def stop(self) -> None:
        self._run(self._cut())
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.transport.abort()
