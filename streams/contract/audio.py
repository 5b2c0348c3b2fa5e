"""The audio frame of ``calls.audio``: bulk bytes with a small JSON header, no base64.

Wire format: ``b"CA"`` + uint16 header length + JSON header + raw payload.
"""

from __future__ import annotations

import dataclasses
import json
import struct
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from streams.contract.codec import RecordDecodeError, check_version, parse_json
from streams.contract.vocab import AUDIO_ENCODINGS, CHANNELS, SCHEMA_VERSION, Channel, Encoding
from streams.contract.wire_check import MAX_RECORD_BYTES, WireError, validate_fields

_AUDIO_MAGIC = b"CA"
_HEADER_LEN = struct.Struct(">H")  # header length, big-endian uint16


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One channel's audio frame (topic ``calls.audio``), 100–500 ms of audio.

    Wire format: ``b"CA"`` + uint16 header length + JSON header + raw payload.  The
    payload keeps the telephony encoding it arrived in (``mulaw`` 8 kHz or ``pcm16le``)
    so the topic carries no base64 overhead.  Idempotent by ``(call_id, channel, seq)``.
    """

    call_id: str
    channel: Channel
    seq: int  # per call and channel, from 0, no gaps
    start: float  # call time (seconds) of the first sample
    encoding: Encoding
    sample_rate: int
    payload: bytes
    captured_at: float = 0.0  # epoch seconds when the last sample was received by ingest
    v: int = SCHEMA_VERSION

    TOPIC_KIND: ClassVar[str] = "audio"

    @property
    def sample_count(self) -> int:
        return len(self.payload) // (2 if self.encoding == "pcm16le" else 1)

    @property
    def duration(self) -> float:
        return self.sample_count / self.sample_rate

    @property
    def end(self) -> float:
        return self.start + self.duration

    def to_bytes(self) -> bytes:
        header = json.dumps(
            {
                "v": self.v,
                "call_id": self.call_id,
                "channel": self.channel,
                "seq": self.seq,
                "start": self.start,
                "encoding": self.encoding,
                "sample_rate": self.sample_rate,
                "captured_at": self.captured_at,
            },
            separators=(",", ":"),
        ).encode()
        return _AUDIO_MAGIC + _HEADER_LEN.pack(len(header)) + header + self.payload

    @classmethod
    def from_bytes(cls, data: bytes | None) -> AudioFrame:
        """Decode one frame; every failure is a :class:`RecordDecodeError`."""
        if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) < 4 or bytes(data[:2]) != _AUDIO_MAGIC:
            raise RecordDecodeError("AudioFrame: not an audio frame (bad magic)")
        if len(data) > MAX_RECORD_BYTES:
            raise RecordDecodeError(f"AudioFrame: {len(data)} bytes, more than {MAX_RECORD_BYTES}")
        (hlen,) = _HEADER_LEN.unpack_from(data, 2)
        if len(data) < 4 + hlen:
            raise RecordDecodeError("AudioFrame: truncated header")
        h = parse_json("AudioFrame header", bytes(data[4 : 4 + hlen]))
        check_version("AudioFrame", h)
        header_fields = {name: typ for name, typ in _audio_frame_fields().items() if name != "payload"}
        try:
            values = validate_fields(header_fields, _AUDIO_DEFAULTS, h, _no_nested, "AudioFrame")
        except WireError as exc:
            raise RecordDecodeError(str(exc)) from None
        frame = cls(payload=bytes(data[4 + hlen :]), **values)
        frame.validate()
        return frame

    def validate(self) -> None:
        if not self.call_id:
            raise RecordDecodeError("AudioFrame: empty call_id")
        if self.channel not in CHANNELS:
            raise RecordDecodeError(f"AudioFrame: unknown channel {self.channel!r}")
        if self.encoding not in AUDIO_ENCODINGS:
            raise RecordDecodeError(f"AudioFrame: unknown encoding {self.encoding!r}")
        if not 8000 <= self.sample_rate <= 48000:
            raise RecordDecodeError(f"AudioFrame: unsupported sample rate {self.sample_rate}")
        if not self.payload:
            raise RecordDecodeError("AudioFrame: empty payload")
        if len(self.payload) > MAX_FRAME_SECONDS * self.sample_rate * 2:
            raise RecordDecodeError(f"AudioFrame: payload longer than {MAX_FRAME_SECONDS} s")
        if self.encoding == "pcm16le" and len(self.payload) % 2:
            raise RecordDecodeError("AudioFrame: odd-length PCM16 payload")
        if self.seq < 0:
            raise RecordDecodeError("AudioFrame: negative seq")


#: a frame is 100–500 ms; anything over this is not a frame of this protocol
MAX_FRAME_SECONDS = 5
_AUDIO_DEFAULTS = ("captured_at", "v")


def _audio_frame_fields() -> dict[str, Any]:
    hints = typing.get_type_hints(AudioFrame)
    return {f.name: hints[f.name] for f in dataclasses.fields(AudioFrame)}




def _no_nested(cls: type, values: dict[str, Any]) -> Any:
    raise WireError("AudioFrame header: no nested records")
