"""Parsing and validation of the ingest protocol's messages (pure: no I/O, no websockets).

Two dialects arrive on the same endpoint (docs/ingest.md):
- native: a JSON ``open`` message, binary audio frames (1 byte channel id + payload), JSON
  ``close``/``ping``/``state``;
- Twilio Media Streams: JSON events ``connected``/``start``/``media``/``stop`` with base64
  8 kHz µ-law (plus ``state`` from Twilio-compatible media servers).
Call context and state messages are validated in :mod:`pipeline.ingest.call_state`.
Every function here raises :class:`ProtocolError` with a bounded ``kind`` (it is both the
``code`` the client receives and the metric label) and a message a human can act on.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any

from pipeline.ingest.framer import BYTES_PER_SAMPLE


class Kind:
    """Error codes sent to the client; also the ``kind`` label of the error metric (bounded)."""

    UNAUTHORIZED = "unauthorized"
    NO_OPEN = "no_open"  # the first message is not an open/start message
    BAD_OPEN = "bad_open"  # the open message is invalid
    UNKNOWN_FORMAT = "unknown_format"
    DUPLICATE_CALL = "duplicate_call"
    CAPACITY = "capacity"
    OPEN_TIMEOUT = "open_timeout"
    IDLE_TIMEOUT = "idle_timeout"  # an open call that sends nothing for too long
    DUPLICATE_HEADER = "duplicate_header"
    TOO_MANY_FAILURES = "too_many_failures"  # wrong tokens from one address: back off
    ODD_LENGTH = "odd_length"
    UNKNOWN_CHANNEL = "unknown_channel"
    OVERSIZE = "oversize"
    EMPTY_FRAME = "empty_frame"
    BAD_JSON = "bad_json"  # a text message that is not JSON (garbage)
    BAD_MESSAGE = "bad_message"  # JSON, but not a message we understand
    UNEXPECTED = "unexpected"  # a valid message at the wrong time (second open, mixed dialects)
    BAD_CONTEXT = "bad_context"  # call context rejected (the call goes on without it)
    BAD_STATE = "bad_state"  # a call-state message rejected (unknown kind, transfer without agent)
    TOO_MANY_ERRORS = "too_many_errors"


#: websocket close codes (4000-4999 are application codes) per fatal kind
CLOSE_CODES = {
    Kind.UNAUTHORIZED: 4401,
    Kind.OPEN_TIMEOUT: 4408,
    Kind.IDLE_TIMEOUT: 4408,
    Kind.DUPLICATE_CALL: 4409,
    Kind.UNKNOWN_FORMAT: 4415,
    Kind.CAPACITY: 4503,
}
CLOSE_PROTOCOL_ERROR = 4400
CLOSE_NORMAL = 1000


class ProtocolError(Exception):
    def __init__(self, kind: str, message: str, fatal: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.fatal = fatal

    @property
    def close_code(self) -> int:
        return CLOSE_CODES.get(self.kind, CLOSE_PROTOCOL_ERROR)


#: binary frame byte 0 -> channel
CHANNEL_IDS: dict[int, str] = {0: "agent", 1: "customer"}
CHANNEL_NAMES = tuple(CHANNEL_IDS.values())

ENCODING_ALIASES = {
    "pcm16le": "pcm16le", "pcm_s16le": "pcm16le", "s16le": "pcm16le", "linear16": "pcm16le", "pcm16": "pcm16le",
    "mulaw": "mulaw", "ulaw": "mulaw", "mu-law": "mulaw", "pcmu": "mulaw", "g711_ulaw": "mulaw",
    "audio/x-mulaw": "mulaw",
}  # fmt: skip
PCM_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
LANGUAGE_ALIASES = {"cmn": "zh", "zho": "zh", "chi": "zh", "eng": "en"}
# Call ids become Kafka keys, URL path parts and file names downstream: keep them boring.
CALL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_LANG_RE = re.compile(r"^[a-z]{2,3}$")
_MAX_META = 128


@dataclass(frozen=True, slots=True)
class AudioFormat:
    encoding: str
    sample_rate: int

    @property
    def bytes_per_sample(self) -> int:
        return BYTES_PER_SAMPLE[self.encoding]


@dataclass(frozen=True, slots=True)
class CallMeta:
    call_id: str
    agent_id: str = ""
    customer_id: str = ""
    queue: str = ""
    language: str = ""
    channels: tuple[str, ...] = CHANNEL_NAMES


@dataclass(frozen=True, slots=True)
class OpenRequest:
    meta: CallMeta
    format: AudioFormat
    token: str | None
    source: str  # "ws" | "twilio" | "replay"
    # Twilio only: track name -> channel
    tracks: dict[str, str] = field(default_factory=dict)


def parse_format(encoding: Any, sample_rate: Any) -> AudioFormat:
    if not isinstance(encoding, str) or encoding.lower() not in ENCODING_ALIASES:
        raise ProtocolError(
            Kind.UNKNOWN_FORMAT,
            f"unknown audio encoding {encoding!r}: use 'pcm16le' (8-48 kHz) or 'mulaw' (8 kHz)",
            fatal=True,
        )
    enc = ENCODING_ALIASES[encoding.lower()]
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, int):
        raise ProtocolError(
            Kind.UNKNOWN_FORMAT, f"sample_rate must be an integer, got {sample_rate!r}", fatal=True
        )
    if enc == "mulaw" and sample_rate != 8000:
        raise ProtocolError(
            Kind.UNKNOWN_FORMAT, f"mulaw is accepted at 8000 Hz only, got {sample_rate}", fatal=True
        )
    if enc == "pcm16le" and sample_rate not in PCM_RATES:
        raise ProtocolError(
            Kind.UNKNOWN_FORMAT,
            f"unsupported pcm16le sample_rate {sample_rate}; use one of {', '.join(map(str, PCM_RATES))}",
            fatal=True,
        )
    return AudioFormat(enc, sample_rate)


def normalize_language(value: Any) -> str:
    """'' (detect), or an ISO 639 primary subtag: 'en-US' -> 'en', 'zh_CN' / 'cmn' -> 'zh'."""
    if value is None or value == "" or value == "auto":
        return ""
    if not isinstance(value, str):
        raise ProtocolError(
            Kind.BAD_OPEN, f"language must be a string like 'en' or 'zh', got {value!r}", fatal=True
        )
    primary = value.replace("_", "-").split("-")[0].lower()
    primary = LANGUAGE_ALIASES.get(primary, primary)
    if not _LANG_RE.match(primary):
        raise ProtocolError(
            Kind.BAD_OPEN, f"language {value!r} is not a language code like 'en' or 'zh'", fatal=True
        )
    return primary


def _meta_str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > _MAX_META:
        raise ProtocolError(
            Kind.BAD_OPEN, f"{key} must be a string of at most {_MAX_META} characters", fatal=True
        )
    return value


def _call_id(value: Any) -> str:
    if not isinstance(value, str) or not CALL_ID_RE.match(value):
        raise ProtocolError(
            Kind.BAD_OPEN,
            f"call_id {value!r} is missing or invalid: 1-128 characters of letters, digits and ._:@- "
            "(starting with a letter or digit)",
            fatal=True,
        )
    return value


def parse_open(obj: dict[str, Any], source: str = "ws") -> OpenRequest:
    """Validate a native ``{"type": "open", ...}`` message."""
    fmt_obj = obj.get("format")
    if not isinstance(fmt_obj, dict):
        raise ProtocolError(
            Kind.BAD_OPEN, 'open message needs "format": {"encoding": ..., "sample_rate": ...}', fatal=True
        )
    call_id = _call_id(obj.get("call_id"))
    fmt = parse_format(fmt_obj.get("encoding"), fmt_obj.get("sample_rate"))
    channels = fmt_obj.get("channels", list(CHANNEL_NAMES))
    if not isinstance(channels, list) or not channels or len(set(map(str, channels))) != len(channels):
        raise ProtocolError(
            Kind.BAD_OPEN, 'format.channels must be a non-empty list like ["agent", "customer"]', True
        )
    unknown = [c for c in channels if c not in CHANNEL_NAMES]
    if unknown:
        raise ProtocolError(
            Kind.UNKNOWN_CHANNEL,
            f"unknown channel(s) {unknown}: channels are 'agent' and 'customer'",
            fatal=True,
        )
    token = obj.get("token")
    if token is not None and not isinstance(token, str):
        raise ProtocolError(Kind.UNAUTHORIZED, "token must be a string", fatal=True)
    meta = CallMeta(
        call_id=call_id,
        agent_id=_meta_str(obj, "agent_id"),
        customer_id=_meta_str(obj, "customer_id"),
        queue=_meta_str(obj, "queue"),
        language=normalize_language(obj.get("language")),
        channels=tuple(c for c in CHANNEL_NAMES if c in channels),
    )
    # a replaying client may say so (metric label and CallEvent.source); the set stays bounded
    declared = obj.get("source")
    src = declared if isinstance(declared, str) and declared in ("ws", "replay") else source
    return OpenRequest(meta=meta, format=fmt, token=token, source=src)


def parse_binary_frame(
    data: bytes, fmt: AudioFormat, channels: tuple[str, ...], max_bytes: int
) -> tuple[str, bytes]:
    """Native audio frame: byte 0 = channel id (0 agent, 1 customer), the rest = payload."""
    if len(data) < 2:
        raise ProtocolError(
            Kind.EMPTY_FRAME, "binary frame has no audio: byte 0 is the channel id, then audio"
        )
    channel = CHANNEL_IDS.get(data[0])
    if channel is None or channel not in channels:
        declared = ", ".join(f"{i}={n}" for i, n in CHANNEL_IDS.items() if n in channels)
        raise ProtocolError(Kind.UNKNOWN_CHANNEL, f"unknown channel id {data[0]} (declared: {declared})")
    payload = bytes(data[1:])
    check_payload(payload, fmt, max_bytes)
    return channel, payload


def check_payload(payload: bytes, fmt: AudioFormat, max_bytes: int) -> None:
    if len(payload) > max_bytes:
        raise ProtocolError(
            Kind.OVERSIZE, f"audio payload of {len(payload)} bytes exceeds the limit of {max_bytes} bytes"
        )
    if len(payload) % fmt.bytes_per_sample:
        raise ProtocolError(
            Kind.ODD_LENGTH, f"pcm16le payload of odd length {len(payload)}: send whole samples"
        )


# ---------------------------------------------------------------------------
# Twilio Media Streams
# ---------------------------------------------------------------------------
def parse_twilio_start(obj: dict[str, Any], inbound_channel: str = "customer") -> OpenRequest:
    """Twilio ``start`` event: call metadata comes from ``<Parameter>``s (customParameters)."""
    start = obj.get("start")
    if not isinstance(start, dict):
        raise ProtocolError(Kind.BAD_OPEN, 'Twilio "start" event without a "start" object', fatal=True)
    media_format = start.get("mediaFormat") or {}
    if not isinstance(media_format, dict):
        raise ProtocolError(Kind.BAD_OPEN, "Twilio start.mediaFormat must be an object", fatal=True)
    fmt = parse_format(media_format.get("encoding", "audio/x-mulaw"), media_format.get("sampleRate", 8000))
    if media_format.get("channels", 1) != 1:
        raise ProtocolError(
            Kind.UNKNOWN_FORMAT, "Twilio mediaFormat.channels must be 1 (one track per message)", True
        )
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError(Kind.BAD_OPEN, "Twilio start.customParameters must be an object", fatal=True)
    call_id = _call_id(params.get("call_id") or start.get("callSid") or obj.get("streamSid"))
    outbound_channel = "agent" if inbound_channel == "customer" else "customer"
    track_map = {"inbound": inbound_channel, "outbound": outbound_channel}
    tracks = start.get("tracks", ["inbound"])
    if not isinstance(tracks, list) or not tracks or any(t not in track_map for t in tracks):
        raise ProtocolError(
            Kind.UNKNOWN_CHANNEL, f"Twilio tracks {tracks!r}: expected inbound and/or outbound", True
        )
    token = params.get("token")
    meta = CallMeta(
        call_id=call_id,
        agent_id=_meta_str(params, "agent_id"),
        customer_id=_meta_str(params, "customer_id"),
        queue=_meta_str(params, "queue"),
        language=normalize_language(params.get("language")),
        channels=tuple(c for c in CHANNEL_NAMES if c in {track_map[t] for t in tracks}),
    )
    return OpenRequest(
        meta=meta,
        format=fmt,
        token=token if isinstance(token, str) else None,
        source="twilio",
        tracks={t: track_map[t] for t in tracks},
    )


def parse_twilio_media(obj: dict[str, Any], tracks: dict[str, str]) -> tuple[str, bytes, int | None]:
    """Twilio ``media`` event -> (channel, µ-law bytes, timestamp ms or None)."""
    media = obj.get("media")
    if not isinstance(media, dict) or not isinstance(media.get("payload"), str):
        raise ProtocolError(Kind.BAD_MESSAGE, 'Twilio "media" event without media.payload (base64)')
    track = media.get("track", "inbound")
    channel = tracks.get(track) if isinstance(track, str) else None
    if channel is None:
        raise ProtocolError(Kind.UNKNOWN_CHANNEL, f"Twilio media for track {track!r}, not in start.tracks")
    try:
        payload = base64.b64decode(media["payload"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError(Kind.BAD_MESSAGE, f"Twilio media.payload is not valid base64 ({exc})") from exc
    ts = media.get("timestamp")
    try:
        timestamp = int(ts) if ts is not None else None
    except (TypeError, ValueError):
        timestamp = None  # a bad timestamp only disables gap filling for this message
    return channel, payload, timestamp
