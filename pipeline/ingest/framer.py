"""Re-chunk one call's incoming audio into fixed-duration frames per channel (pure, no I/O).

Clients send audio in whatever sizes their media stack produces (Twilio: 20 ms, a softphone:
10-100 ms, replay: any).  Downstream workers want predictable 100-500 ms records, one per
channel, numbered from 0 without gaps, so the framer buffers each channel and cuts exact
frames.  ``start`` is the call time of a frame's first sample, derived from the sample count
(each channel's audio is continuous; gaps are filled with silence before they reach here).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from streams.contract.audio import AudioFrame
from streams.contract.vocab import Channel, Encoding

BYTES_PER_SAMPLE = {"pcm16le": 2, "mulaw": 1}
#: one byte of digital silence per encoding (µ-law 0xFF is +0)
SILENCE_BYTE = {"pcm16le": b"\x00", "mulaw": b"\xff"}


class _Channel:
    __slots__ = ("buf", "emitted_samples", "seq", "last_received")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.emitted_samples = 0
        self.seq = 0
        self.last_received = 0.0


class Framer:
    """Cuts each channel's byte stream into ``frame_ms`` frames with per-channel ``seq``."""

    def __init__(
        self, call_id: str, encoding: str, sample_rate: int, channels: Iterable[str], frame_ms: int = 200
    ) -> None:
        if encoding not in BYTES_PER_SAMPLE:
            raise ValueError(f"unknown encoding {encoding!r}")
        if not 100 <= frame_ms <= 500:
            raise ValueError("frame_ms must be between 100 and 500")
        self.call_id = call_id
        self.encoding = encoding
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.bytes_per_sample = BYTES_PER_SAMPLE[encoding]
        self.frame_samples = sample_rate * frame_ms // 1000
        self.frame_bytes = self.frame_samples * self.bytes_per_sample
        self._channels = {name: _Channel() for name in channels}

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self._channels)

    def received_seconds(self, channel: str) -> float:
        """Audio seconds received so far on ``channel`` (emitted plus buffered)."""
        ch = self._channels[channel]
        return (ch.emitted_samples + len(ch.buf) // self.bytes_per_sample) / self.sample_rate

    def duration(self) -> float:
        """Call duration seen so far: the longest channel."""
        return max((self.received_seconds(c) for c in self._channels), default=0.0)

    def push(self, channel: str, payload: bytes, now: float) -> list[AudioFrame]:
        """Add audio (whole samples) to ``channel``; return the frames completed by it."""
        ch = self._channels[channel]  # KeyError = caller bug: the protocol validates channels
        if len(payload) % self.bytes_per_sample:
            raise ValueError("payload is not a whole number of samples")
        ch.buf += payload
        ch.last_received = now
        out: list[AudioFrame] = []
        while len(ch.buf) >= self.frame_bytes:
            out.append(self._emit(channel, ch, bytes(ch.buf[: self.frame_bytes]), now))
            del ch.buf[: self.frame_bytes]
        return out

    def pad_silence(self, channel: str, samples: int, now: float) -> list[AudioFrame]:
        """Insert ``samples`` of silence (a gap the sender reported via timestamps)."""
        if samples <= 0:
            return []
        return self.push(channel, SILENCE_BYTE[self.encoding] * (samples * self.bytes_per_sample), now)

    def flush(self, now: float) -> list[AudioFrame]:
        """Emit what is buffered on every channel (end of call): the last frame may be short."""
        out: list[AudioFrame] = []
        for name, ch in self._channels.items():
            if ch.buf:
                out.append(self._emit(name, ch, bytes(ch.buf), now))
                ch.buf.clear()
        return out

    def _emit(self, name: str, ch: _Channel, payload: bytes, now: float) -> AudioFrame:
        frame = AudioFrame(
            call_id=self.call_id,
            channel=cast(Channel, name),  # one of the framer's two channels
            seq=ch.seq,
            start=ch.emitted_samples / self.sample_rate,
            encoding=cast(Encoding, self.encoding),  # checked by the session
            sample_rate=self.sample_rate,
            payload=payload,
            captured_at=now,
        )
        ch.seq += 1
        ch.emitted_samples += len(payload) // self.bytes_per_sample
        return frame
