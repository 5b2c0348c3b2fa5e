"""The websocket layer of the ingest gateway: sockets in, protocol core, records out.

Everything about the protocol lives in :mod:`pipeline.ingest.protocol`; this module only
moves messages between a ``websockets`` connection, an :class:`IngestSession` and the sink,
and turns what happened into metrics and log lines.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers, MultipleValuesError
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from pipeline.ingest.admission import CallRegistry, token_ok
from pipeline.ingest.messages import Kind
from pipeline.ingest.metrics import IngestMetrics, RateLimitedLog, end_reason_label
from pipeline.ingest.outputs import AudioIn, Close, GapFill, Reply
from pipeline.ingest.protocol import AWAITING_OPEN, CLOSED, IngestSession, Limits
from pipeline.ingest.settings import IngestSettings
from streams.contract.audio import AudioFrame
from streams.contract.records import CallEvent
from streams.platform import log_scrub
from streams.platform.ws_guard import BodyRefusingConnection

log = logging.getLogger(__name__)
# websockets logs the handshake (Authorization, ?token=) and frames at DEBUG: scrub every line
_ws_logger = logging.getLogger("pipeline.ingest.ws")
log_scrub.install([_ws_logger, log, "pipeline.ingest"])


class RecordSink(Protocol):
    async def send_audio(self, frame: AudioFrame) -> bool: ...
    async def send_event(self, event: CallEvent) -> None: ...


class ConfigError(ValueError):
    pass


def handshake_token(headers: Headers, path: str) -> str | None:
    """Token from ``Authorization: Bearer X`` or ``?token=X`` (None when neither is given)."""
    auth = headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    values = parse_qs(urlsplit(path).query).get("token")
    return values[0] if values else None


MIN_TOKEN_LENGTH = 16  # shorter shared secrets are guessable over the network


class AuthBackoff:
    """Wrong tokens per client address: after ``limit`` within ``window_s`` it is refused for ``window_s``.

    Bounded (``max_addresses``, oldest forgotten first) so a scan of many addresses cannot grow it.
    """

    def __init__(self, limit: int = 5, window_s: float = 60.0, max_addresses: int = 10_000,
                 clock: Any = time.monotonic) -> None:
        self.limit, self.window_s, self.max_addresses, self.clock = limit, window_s, max_addresses, clock
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # address -> (count, first at)

    def blocked(self, address: str) -> bool:
        entry = self._failures.get(address)
        if entry is None:
            return False
        if self.clock() - entry[1] > self.window_s:
            del self._failures[address]
            return False
        return entry[0] >= self.limit

    def failed(self, address: str) -> None:
        now = self.clock()
        count, first = self._failures.pop(address, (0, now))
        if now - first > self.window_s:
            count, first = 0, now
        self._failures[address] = (count + 1, first)
        while len(self._failures) > self.max_addresses:
            self._failures.popitem(last=False)


def _address(connection: Any) -> str:
    remote = getattr(connection, "remote_address", None)
    return str(remote[0]) if isinstance(remote, tuple) and remote else str(remote)


def check_auth_config(settings: IngestSettings) -> list[str]:
    """The configured tokens; refuses an open gateway unless anonymous access is asked for."""
    tokens = settings.tokens()
    short = [t for t in tokens if len(t) < MIN_TOKEN_LENGTH]
    if short:
        raise ConfigError(
            f"CALLASSIST_INGEST_TOKENS: {len(short)} token(s) shorter than {MIN_TOKEN_LENGTH} characters; "
            "use long random secrets (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(24))'`)"
        )
    if not tokens and not settings.ingest_allow_anonymous:
        raise ConfigError(
            "no ingest token configured: set CALLASSIST_INGEST_TOKENS (comma-separated shared secrets), "
            "or CALLASSIST_INGEST_ALLOW_ANONYMOUS=true on a laptop"
        )
    return tokens


def _close_reason(text: str) -> str:
    # a close frame's reason is limited to 123 UTF-8 bytes
    return text.encode()[:123].decode(errors="ignore")


class IngestGateway:
    """Serves the audio websocket endpoint; one :class:`IngestSession` per connection."""

    def __init__(
        self,
        settings: IngestSettings,
        sink: RecordSink,
        metrics: IngestMetrics,
        registry: CallRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.metrics = metrics
        self.tokens = check_auth_config(settings)
        self.registry = registry or CallRegistry(settings.ingest_max_calls, settings.ingest_recent_call_ids)
        self.limits = Limits(
            frame_ms=settings.ingest_frame_ms,
            max_frame_ms=settings.ingest_max_frame_ms,
            max_errors=settings.ingest_max_errors,
            twilio_inbound_channel=settings.ingest_twilio_inbound_channel,
            twilio_max_gap_fill_s=settings.ingest_twilio_max_gap_fill_s,
        )
        self.server: Server | None = None
        self.shutting_down = False
        self._warn = RateLimitedLog(log)
        self.backoff = AuthBackoff(settings.ingest_auth_failures, settings.ingest_auth_backoff_s)
        # label children cached: .labels() costs a lock and a dict lookup per audio message
        self._frames_in = {s: metrics.frames_in.labels(s) for s in ("ws", "twilio", "replay")}
        self._bytes_in = {s: metrics.bytes_in.labels(s) for s in ("ws", "twilio", "replay")}

    # -- lifecycle --------------------------------------------------------------
    async def start(self) -> None:
        s = self.settings
        self.server = await serve(
            self.handler,
            s.ingest_host,
            s.ingest_port,
            process_request=self._process_request,
            compression=None,  # audio does not compress; deflate would only cost CPU
            max_size=s.ingest_max_message_bytes,
            max_queue=8,  # bounded receive buffer (<= 8 x max_size): a blocked handler pushes back on TCP
            open_timeout=s.ingest_open_timeout_s,
            close_timeout=5,
            server_header=None,
            logger=_ws_logger,
            create_connection=BodyRefusingConnection,  # answer a request body instead of hanging up
        )
        log.info("ingest gateway listening on ws://%s:%d", s.ingest_host, self.port)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Close every connection (1001); each open call gets its ``ended`` event first."""
        if self.server is None:
            return
        self.shutting_down = True
        self.server.close()
        await self.server.wait_closed()
        self.server = None

    # -- handshake ------------------------------------------------------------------
    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            return connection.respond(200, "ok\n")
        address = _address(connection)
        if self.backoff.blocked(address):
            self.metrics.client_error(Kind.TOO_MANY_FAILURES, dropped_audio=False)
            return connection.respond(429, "too many failed attempts; try again later\n")
        try:
            token = handshake_token(request.headers, request.path)
            for name in ("Host", "Origin", "Authorization"):
                request.headers.get(name)  # raises on a repeated header: which one wins is ambiguous
        except MultipleValuesError as exc:
            self.metrics.client_error(Kind.DUPLICATE_HEADER, dropped_audio=False)
            return connection.respond(400, f"duplicate header {str(exc)[:40]}\n")
        if token is not None and not token_ok(token, self.tokens):
            self.backoff.failed(address)
            self.metrics.client_error("unauthorized", dropped_audio=False)
            log.warning("rejected handshake from %s: invalid token", connection.remote_address)
            return connection.respond(401, "invalid token\n")
        return None

    # -- one connection -------------------------------------------------------------
    async def handler(self, ws: ServerConnection) -> None:
        self.metrics.connections.inc()
        authenticated = self.settings.ingest_allow_anonymous and not self.tokens
        request = ws.request
        assert request is not None  # set once the handshake succeeded, before the handler runs
        authenticated = authenticated or handshake_token(request.headers, request.path) is not None
        session = IngestSession(
            registry=self.registry, tokens=self.tokens, authenticated=authenticated, limits=self.limits
        )
        reason = "client_disconnected"
        deadline = time.monotonic() + self.settings.ingest_open_timeout_s
        try:
            while session.state != CLOSED:
                if session.state == AWAITING_OPEN:
                    try:
                        msg = await asyncio.wait_for(ws.recv(), max(0.0, deadline - time.monotonic()))
                    except TimeoutError:
                        await self._apply(ws, session, session.open_timed_out())
                        break
                else:
                    try:
                        msg = await asyncio.wait_for(ws.recv(), self.settings.ingest_idle_timeout_s)
                    except TimeoutError:
                        await self._apply(ws, session, session.idle_timed_out())
                        reason = "idle_timeout"
                        break
                if isinstance(msg, str):
                    outs = session.receive_text(msg)
                else:
                    outs = session.receive_bytes(msg)
                await self._apply(ws, session, outs)
        except ConnectionClosed as exc:
            # we sent the close (1009 message too big, 1007 bad UTF-8): the client broke the protocol
            if exc.sent is not None and exc.rcvd is None and exc.sent.code in (1002, 1007, 1009):
                reason = "protocol_error"
                code = {1009: "message_too_big"}.get(exc.sent.code, "bad_frame")
                self.metrics.client_error(code, dropped_audio=False)
                log.warning("call %s: connection failed: %s", session.call_id or "-", exc)
        except Exception:
            log.exception("call %s: unexpected error in the connection handler", session.call_id or "-")
            self.metrics.error("internal")
            reason = "server_error"
        finally:
            if self.shutting_down and reason == "client_disconnected":
                reason = "server_shutdown"
            # never skipped: every started call gets its ended event (and its buffered audio)
            await self._apply(None, session, session.connection_lost(reason))
            self.metrics.connections.dec()

    async def _apply(self, ws: ServerConnection | None, session: IngestSession, outs: list[Any]) -> None:
        for out in outs:
            if isinstance(out, AudioIn):
                self._frames_in[out.source].inc()
                self._bytes_in[out.source].inc(out.nbytes)
            elif isinstance(out, AudioFrame):
                await self.sink.send_audio(out)
            elif isinstance(out, GapFill):
                self.metrics.gap_fill_seconds.inc(out.seconds)
                if out.capped:
                    self.metrics.gap_fill_capped.inc()
            elif isinstance(out, CallEvent):
                await self.sink.send_event(out)
                self._call_event(out)
            elif isinstance(out, Reply):
                if out.error:
                    self._error(session, out)
                    if out.error == Kind.UNAUTHORIZED and ws is not None:
                        self.backoff.failed(_address(ws))  # a wrong token in the open message counts too
                if ws is not None:
                    try:
                        await ws.send(out.to_text())
                    except ConnectionClosed:
                        pass
            elif isinstance(out, Close) and ws is not None:
                await ws.close(out.code, _close_reason(out.reason))

    def _call_event(self, ev: CallEvent) -> None:
        if ev.kind == "started":
            self.metrics.active_calls.inc()
            log.info(
                "call %s started (%s, %s %d Hz, agent %s, queue %s)",
                ev.call_id, ev.source, ev.encoding, ev.sample_rate, ev.agent_id or "-", ev.queue or "-",
            )  # fmt: skip
        elif ev.kind == "ended":  # call-state events (hold, transfer, ...) leave the count alone
            self.metrics.active_calls.dec()
            self.metrics.calls_ended.labels(end_reason_label(ev.reason)).inc()
            log.info("call %s ended (%s) after %.1f s of audio", ev.call_id, ev.reason, ev.duration)

    def _error(self, session: IngestSession, reply: Reply) -> None:
        self.metrics.client_error(reply.error, reply.dropped_audio)
        fatal = reply.message.get("fatal")
        self._warn.warning(
            f"{reply.error}:{fatal}",
            "call %s: %s error %s: %s",
            session.call_id or "-",
            "fatal" if fatal else "rejected message,",
            reply.error,
            reply.message.get("message"),
        )
