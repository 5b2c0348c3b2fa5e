"""The sans-I/O core of the ingest gateway: one connection's state machine.

Feed it what arrived (:meth:`IngestSession.receive_text`, :meth:`receive_bytes`,
:meth:`connection_lost`); it returns what to do: records to produce
(:class:`~streams.contract.records.CallEvent`, :class:`~streams.contract.audio.AudioFrame`), JSON
:class:`Reply` messages for the client and at most one :class:`Close`.  It never touches
a socket, so every bad-input case is unit-tested by feeding bytes (tests/unit).

Invariants the server relies on:
- a call that produced ``started`` always produces exactly one ``ended``, whatever way the
  connection ends (close message, Twilio stop, fatal error, disconnect, shutdown);
- buffered audio is flushed before ``ended``;
- errors never raise out of this module: each becomes an error reply (and, when fatal, a Close).

Beside it, also sans-I/O: what it returns (outputs.py), who may stream (admission.py: tokens,
the process-wide call-id registry), parsing and validation of the messages (messages.py,
call_state.py) and cutting audio into frames (framer.py).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pipeline.ingest.admission import CallRegistry, token_ok
from pipeline.ingest.call_state import StateChange, parse_context, parse_state, twilio_context
from pipeline.ingest.framer import Framer
from pipeline.ingest.messages import (
    CLOSE_NORMAL,
    Kind,
    OpenRequest,
    ProtocolError,
    check_payload,
    parse_binary_frame,
    parse_open,
    parse_twilio_media,
    parse_twilio_start,
)
from pipeline.ingest.outputs import AudioIn, Close, GapFill, Output, Reply
from streams.contract.records import CallEvent
from streams.contract.vocab import Encoding


@dataclass(frozen=True, slots=True)
class Limits:
    frame_ms: int = 200
    max_frame_ms: int = 1000
    max_errors: int = 20
    twilio_inbound_channel: str = "customer"
    twilio_max_gap_fill_s: float = 5.0  # one gap
    # all gaps of a call together, and never more audio than wall-clock time since the stream
    # started plus this slack: timestamps are the client's word, silence costs the whole pipeline
    twilio_max_total_gap_fill_s: float = 600.0
    gap_fill_slack_s: float = 2.0
    twilio_gap_threshold_ms: int = 100  # Twilio sends 20 ms chunks; larger jumps are real gaps


AWAITING_OPEN, OPEN, CLOSED = "awaiting_open", "open", "closed"


class IngestSession:
    """Protocol state of one websocket connection (or one replayed file)."""

    def __init__(
        self,
        *,
        registry: CallRegistry,
        tokens: Sequence[str] = (),
        authenticated: bool = False,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.time,
        source: str = "ws",
    ) -> None:
        self.registry = registry
        self.tokens = tuple(tokens)
        self.authenticated = authenticated
        self.limits = limits or Limits()
        self.clock = clock
        self.source = source
        self.state = AWAITING_OPEN
        self.request: OpenRequest | None = None
        self.framer: Framer | None = None
        self.errors = 0
        self._twilio = False
        self._max_payload = 0
        self._opened_at = 0.0
        self._gap_filled_s = 0.0
        self.context: dict[str, str] = {}  # goes on the started event only

    @property
    def call_id(self) -> str:
        return self.request.meta.call_id if self.request else ""

    # -- inputs ---------------------------------------------------------------
    def receive_text(self, text: str) -> list[Output]:
        if self.state == CLOSED:
            return []
        try:
            return self._text(text)
        except ProtocolError as err:
            return self._error(err)

    def receive_bytes(self, data: bytes) -> list[Output]:
        if self.state == CLOSED:
            return []
        try:
            return self._binary(data)
        except ProtocolError as err:
            return self._error(err, dropped_audio=self.state == OPEN)

    def connection_lost(self, reason: str = "client_disconnected") -> list[Output]:
        """The transport is gone (or the server shuts down): end the call if one is open."""
        if self.state == CLOSED:
            return []
        return self._end(reason)

    def idle_timed_out(self) -> list[Output]:
        """An open call sent nothing for ``idle_timeout_s``: end it (a held line still sends silence)."""
        if self.state != OPEN:
            return []
        return self._error(ProtocolError(Kind.IDLE_TIMEOUT, "no message received in time", fatal=True))

    def open_timed_out(self) -> list[Output]:
        if self.state != AWAITING_OPEN:
            return []
        return self._error(ProtocolError(Kind.OPEN_TIMEOUT, "no open message received in time", fatal=True))

    # -- message handling -----------------------------------------------------
    def _text(self, text: str) -> list[Output]:
        try:
            obj = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            if self.state == AWAITING_OPEN:
                raise ProtocolError(
                    Kind.NO_OPEN, "first message must be a JSON open message; got non-JSON text", True
                ) from None
            raise ProtocolError(Kind.BAD_JSON, "text message is not JSON") from None
        if not isinstance(obj, dict):
            kind = Kind.NO_OPEN if self.state == AWAITING_OPEN else Kind.BAD_MESSAGE
            raise ProtocolError(
                kind, f"expected a JSON object, got {type(obj).__name__}", self.state == AWAITING_OPEN
            )
        if "event" in obj and "type" not in obj:
            return self._twilio_event(obj)
        mtype = obj.get("type")
        if self.state == AWAITING_OPEN:
            if mtype != "open":
                raise ProtocolError(
                    Kind.NO_OPEN, f'first message must be {{"type": "open", ...}}, got type {mtype!r}', True
                )
            return self._open(parse_open(obj, self.source), lambda: parse_context(obj.get("context")))
        if mtype == "open":
            raise ProtocolError(Kind.UNEXPECTED, "call is already open on this connection")
        if mtype == "close":
            reason = obj.get("reason", "hangup")
            ok = isinstance(reason, str) and 0 < len(reason) <= 64 and reason.isascii()
            return self._end(reason if ok else "hangup", normal=True)
        if mtype == "ping":
            assert self.framer is not None
            received = {c: round(self.framer.received_seconds(c), 3) for c in self.framer.channels}
            return [Reply({"type": "pong", "id": obj.get("id"), "received": received})]
        if mtype == "state":
            return self._state(parse_state(obj))
        raise ProtocolError(Kind.BAD_MESSAGE, f"unknown message type {mtype!r} (expected close, ping or state)")

    def _twilio_event(self, obj: dict[str, Any]) -> list[Output]:
        event = obj.get("event")
        if self.state == OPEN and not self._twilio:
            raise ProtocolError(Kind.UNEXPECTED, f"Twilio {event!r} event on a native-protocol call")
        if event == "connected":
            return []
        if event == "start":
            if self.state == OPEN:
                raise ProtocolError(Kind.UNEXPECTED, "Twilio stream already started")
            self._twilio = True
            req = parse_twilio_start(obj, self.limits.twilio_inbound_channel)
            # parse_twilio_start checked start.customParameters is an object (or absent)
            return self._open(req, lambda: twilio_context(obj["start"].get("customParameters") or {}))
        if self.state == AWAITING_OPEN:
            raise ProtocolError(Kind.NO_OPEN, f'Twilio {event!r} event before "start"', fatal=True)
        if event == "media":
            assert self.request is not None and self.framer is not None
            try:
                channel, payload, ts = parse_twilio_media(obj, self.request.tracks)
                check_payload(payload, self.request.format, self._max_payload)
            except ProtocolError as err:
                return self._error(err, dropped_audio=True)
            out: list[Output] = []
            now = self.clock()
            if ts is not None:
                out.extend(self._fill_gap(channel, ts, now))
            out.append(AudioIn("twilio", len(payload)))
            out.extend(self.framer.push(channel, payload, now))
            return out
        if event == "stop":
            return self._end("hangup", normal=True)
        if event == "state":  # not Twilio's own: a Twilio-dialect media server's (docs/ingest.md)
            return self._state(parse_state(obj.get("state")))
        if event in ("mark", "dtmf"):
            return []
        raise ProtocolError(Kind.BAD_MESSAGE, f"unknown Twilio event {event!r}")

    def _fill_gap(self, channel: str, ts_ms: int, now: float) -> list[Output]:
        # Twilio omits media while a track is silent/held; its timestamps say where this
        # chunk belongs.  Fill the hole with silence so both channels share one clock.
        # Capped three ways (one gap, the call's total, wall-clock time since start) so a
        # client sending tiny chunks with far-apart timestamps cannot amplify its input.
        assert self.framer is not None
        received = self.framer.received_seconds(channel)
        gap_ms = ts_ms - received * 1000.0
        if gap_ms < self.limits.twilio_gap_threshold_ms:
            return []
        lim = self.limits
        wanted = gap_ms / 1000.0
        allowed = min(
            wanted,
            lim.twilio_max_gap_fill_s,
            lim.twilio_max_total_gap_fill_s - self._gap_filled_s,
            (now - self._opened_at) + lim.gap_fill_slack_s - received,
        )
        samples = int(max(0.0, allowed) * self.framer.sample_rate)
        filled = samples / self.framer.sample_rate
        self._gap_filled_s += filled
        out: list[Output] = [GapFill(filled, capped=filled + 1e-9 < wanted)]
        if samples:
            out.extend(self.framer.pad_silence(channel, samples, now))
        return out

    def _binary(self, data: bytes) -> list[Output]:
        if self.state == AWAITING_OPEN:
            raise ProtocolError(
                Kind.NO_OPEN, "binary frame before the open message: send the JSON open first", True
            )
        if self._twilio:
            raise ProtocolError(
                Kind.UNEXPECTED, "binary frame on a Twilio stream (media events carry the audio)"
            )
        assert self.request is not None and self.framer is not None
        channel, payload = parse_binary_frame(
            data, self.request.format, self.request.meta.channels, self._max_payload
        )
        now = self.clock()
        return [AudioIn(self.request.source, len(payload)), *self.framer.push(channel, payload, now)]

    def _state(self, change: StateChange) -> list[Output]:
        assert self.request is not None
        if change.kind == "transfer":  # later events (and "ended") name the new agent
            meta = dataclasses.replace(self.request.meta, agent_id=change.agent_id)
            self.request = dataclasses.replace(self.request, meta=meta)
        return [self._event(change.kind, reason=change.reason)]

    def _open(self, req: OpenRequest, context: Callable[[], dict[str, str]]) -> list[Output]:
        if not self.authenticated:
            if not token_ok(req.token, self.tokens):
                what = "missing" if not req.token else "invalid"
                raise ProtocolError(Kind.UNAUTHORIZED, f"{what} token", fatal=True)
            self.authenticated = True
        conflict = self.registry.claim(req.meta.call_id)
        if conflict is not None:
            raise conflict
        self.request = req
        self.state = OPEN
        self._opened_at = self.clock()
        fmt = req.format
        self._max_payload = fmt.sample_rate * fmt.bytes_per_sample * self.limits.max_frame_ms // 1000
        self.framer = Framer(
            req.meta.call_id, fmt.encoding, fmt.sample_rate, req.meta.channels, self.limits.frame_ms
        )
        context_error: ProtocolError | None = None
        try:
            self.context = context()
        except ProtocolError as err:
            context_error = err  # reported after the open: bad context never costs the call
        out: list[Output] = [self._event("started")]
        if not self._twilio:  # Twilio does not expect replies; native clients wait for this ack
            out.append(
                Reply(
                    {
                        "type": "opened",
                        "call_id": req.meta.call_id,
                        "channels": {
                            str(i): c for i, c in enumerate(("agent", "customer")) if c in req.meta.channels
                        },
                        "frame_ms": self.limits.frame_ms,
                        "max_payload_bytes": self._max_payload,
                    }
                )
            )
        if context_error is not None:
            out.extend(self._error(context_error))
        return out

    # -- endings --------------------------------------------------------------
    def _end(self, reason: str, normal: bool = False) -> list[Output]:
        was_open = self.state == OPEN
        self.state = CLOSED
        if not was_open:
            return []
        assert self.framer is not None
        out: list[Output] = list(self.framer.flush(self.clock()))
        out.append(self._event("ended", reason=reason))
        self.registry.release(self.call_id)
        if normal:
            if not self._twilio:  # Twilio does not expect replies
                duration = round(self.framer.duration(), 3)
                out.append(Reply({"type": "closed", "call_id": self.call_id, "duration": duration}))
            out.append(Close(CLOSE_NORMAL, "call ended"))
        return out

    def _error(self, err: ProtocolError, dropped_audio: bool = False) -> list[Output]:
        self.errors += 1
        if not err.fatal and self.errors > self.limits.max_errors:
            err = ProtocolError(
                Kind.TOO_MANY_ERRORS,
                f"{err.message}; more than {self.limits.max_errors} errors, closing",
                fatal=True,
            )
        out: list[Output] = [
            Reply(
                {"type": "error", "code": err.kind, "message": err.message, "fatal": err.fatal},
                error=err.kind,
                dropped_audio=dropped_audio,
            )
        ]
        if err.fatal:
            out.extend(self._end("idle_timeout" if err.kind == Kind.IDLE_TIMEOUT else "protocol_error"))
            out.append(Close(err.close_code, f"{err.kind}: {err.message}"[:120]))
        return out

    def _event(self, kind: str, reason: str = "") -> CallEvent:
        assert self.request is not None and self.framer is not None
        meta, fmt = self.request.meta, self.request.format
        return CallEvent(
            call_id=meta.call_id,
            kind=kind,
            ts=self.clock(),
            agent_id=meta.agent_id,
            customer_id=meta.customer_id,
            queue=meta.queue,
            language=meta.language,
            encoding=cast(Encoding, fmt.encoding),
            sample_rate=fmt.sample_rate,
            source=self.request.source,
            reason=reason,
            duration=round(self.framer.duration(), 3) if kind == "ended" else 0.0,
            context=self.context if kind == "started" else {},
        )
