"""The UI server: one websockets (v17, asyncio) server for the pages, the JSON API and ``/ws``.

``process_request`` answers every plain HTTP request (pages, static files, API) and lets
only ``GET /ws`` with an allowed Origin go on to the websocket handshake.

The socket protocol (auth, ops, validation, limits) is the sans-I/O :class:`assist_ui.session.Session`;
this module only moves its bytes: it reads messages, feeds them to the session, awaits the live
actions it hands back and writes what the subscriber queue holds.

The token travels in the first message, not the URL, so it never lands in an access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers, MultipleValuesError
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from assist_ui.auth import UserDirectory
from assist_ui.fanout import DROP_CODE, DROP_REASON, Hub, Subscriber
from assist_ui.http_api import HttpApi
from assist_ui.kb_api import KbApi
from assist_ui.live_actions import LiveActions
from assist_ui.live_state import LiveState
from assist_ui.metrics import UiMetrics
from assist_ui.playback import recording_store
from assist_ui.session import BuildSnapshot, Close, Perform, Session
from assist_ui.settings import UiSettings
from assist_ui.store import QaStore
from streams.platform import log_scrub
from streams.platform.ws_guard import BodyRefusingConnection

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    # no inline script or style anywhere: the pages work under a strict policy
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


# websockets logs headers and frames at DEBUG: the one scrubbing filter keeps tokens out
_ws_logger = logging.getLogger("assist_ui.ws")
log_scrub.install([_ws_logger, "assist_ui"])


class UiServer:
    def __init__(
        self,
        settings: UiSettings,
        users: UserDirectory,
        store: QaStore | None,
        metrics: UiMetrics | None = None,
        state: LiveState | None = None,
        ready_check: Any = None,
    ) -> None:
        self.settings = settings
        self.users = users
        self.store = store
        self.metrics = metrics or UiMetrics()
        self.state = state or LiveState(
            max_calls=settings.ui_max_live_calls,
            max_segments=settings.ui_max_segments_per_call,
            ended_retention_s=settings.ui_ended_retention_s,
            idle_timeout_s=settings.ui_idle_timeout_s,
        )
        self.hub = Hub(self.state, settings.ui_client_queue_max, self.metrics)
        self.api = HttpApi(users, store, self.state, self.hub, self.metrics, ready_check,
                           playback=recording_store(
                               settings.recordings_path(), settings.recordings_backend, settings.recordings_s3_bucket,
                               settings.recordings_s3_prefix, settings.recordings_s3_endpoint_url,
                               settings.recordings_s3_region),
                           playback_secret=settings.ui_playback_secret.get_secret_value())
        self.api.kb = KbApi(settings.streams_kb_path, self.state, self.hub, store)  # KB search, feedback, report
        self.actions = LiveActions(self.state, self.hub, store, users)  # ack, whisper, raise hand
        self._server: Server | None = None
        self._background: set[asyncio.Future[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.settings.ui_host}:{self.port}"

    async def start(self) -> UiServer:
        self._server = await serve(
            self._ws,
            self.settings.ui_host,
            self.settings.ui_port,
            process_request=self._process_request,
            max_size=self.settings.ui_max_ws_message_bytes,
            max_queue=64,
            close_timeout=3,
            logger=_ws_logger,
            create_connection=BodyRefusingConnection,  # answer a request body instead of hanging up
        )
        self.port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self.settings.ui_port
        log.info("callassist ui on %s", self.url)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    # -- HTTP -------------------------------------------------------------------------
    def _origin_ok(self, request: Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: the token check still applies
        if origin in self.settings.ui_allowed_origins:
            return True
        return urlsplit(origin).netloc == request.headers.get("Host", "")

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        try:
            for name in ("Host", "Origin", "Authorization", "Cookie"):
                request.headers.get(name)  # a repeated one is ambiguous (which Origin is checked?)
        except MultipleValuesError:
            self.metrics.error("bad_input")
            return self._response(400, f"duplicate {name} header\n".encode(), "text/plain", {})
        if urlsplit(request.path).path == "/ws" and request.method == "GET":
            if not self._origin_ok(request):
                return self._response(403, b"origin not allowed\n", "text/plain", {})
            return None  # go on with the websocket handshake
        result = await self.api.handle(request.method, request.path, request.headers)
        body = b"" if request.method == "HEAD" else result.body
        return self._response(result.status, body, result.content_type, result.headers)

    @staticmethod
    def _response(status: int, body: bytes, content_type: str, extra: dict[str, str]) -> Response:
        headers = Headers()
        headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
        for key, value in {**SECURITY_HEADERS, **extra}.items():
            headers[key] = value
        headers["Connection"] = "close"
        return Response(status, http.HTTPStatus(status).phrase, headers, body)

    # -- websocket: the I/O around assist_ui.session ------------------------------------------
    async def _ws(self, conn: ServerConnection) -> None:
        session = Session(self.users, self.hub, self.metrics, self.settings.ui_max_ws_message_bytes)
        try:
            first: str | bytes | None = await asyncio.wait_for(conn.recv(), self.settings.ui_auth_timeout_s)
        except TimeoutError:
            first = None
        except ConnectionClosed:
            return
        refused = session.receive_auth(first)
        if refused is not None:
            await self._close(conn, refused.code, refused.reason)
            return
        sub = session.sub
        assert sub is not None  # authenticated
        role = sub.user.role

        def on_drop() -> None:
            task = asyncio.ensure_future(self._drop(conn))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

        sub.on_drop = on_drop
        if sub.dropped:  # the greeting alone overflowed the queue (an agent with very many calls)
            on_drop()
        self.metrics.websocket_clients.labels(role).inc()
        sender = asyncio.create_task(self._sender(conn, sub))
        try:
            async for raw in conn:
                effect = session.receive(raw)
                if isinstance(effect, Close):
                    await self._close(conn, effect.code, effect.reason)
                    break
                if isinstance(effect, Perform):
                    await self.actions.handle(sub, effect.msg)
                elif isinstance(effect, BuildSnapshot):
                    self.hub.deliver(effect.job, await asyncio.to_thread(effect.job.build))  # CPU: off the loop
        except ConnectionClosed:
            pass
        finally:
            session.closed()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            self.metrics.websocket_clients.labels(role).dec()

    async def _sender(self, conn: ServerConnection, sub: Subscriber) -> None:
        # the only task writing to this socket: a slow socket blocks here and nowhere else
        try:
            while True:
                item = await sub.get()
                if item is None:
                    return  # dropped: on_drop is closing the socket
                await conn.send(item.text)
                self.metrics.messages_sent.labels(item.type).inc()
                self.metrics.observe_sent(item.timing)
                if item.produced_at:
                    self.metrics.update_latency.labels(item.kind).observe(max(0.0, time.time() - item.produced_at))
        except ConnectionClosed:
            pass

    async def _drop(self, conn: ServerConnection) -> None:
        # close() first flushes what is queued for the socket, and a client that stopped
        # reading never lets that finish: give it a grace period, then cut the TCP connection
        try:
            await asyncio.wait_for(conn.close(DROP_CODE, DROP_REASON), self.settings.ui_drop_grace_s)
        except Exception:
            conn.transport.abort()

    @staticmethod
    async def _close(conn: ServerConnection, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await conn.close(code, reason)
