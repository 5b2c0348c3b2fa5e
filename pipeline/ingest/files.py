"""Read a recorded call for replay: one stereo file (left = agent, right = customer) or a pair
of mono files (agent first), as WAV, FLAC (anything libsndfile reads) or µ-law (WAV or raw).

The audio is streamed block by block (a long 48 kHz recording never sits in memory) and comes
out in the encoding replay will send, keeping the telephony encoding where it saves bytes:
- µ-law 8 kHz sources stay µ-law, byte for byte (no decode/re-encode);
- everything else becomes pcm16le at the file's own rate when the protocol accepts that rate
  (workers resample), else it is resampled to the nearest accepted rate.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import soundfile as sf

from pipeline.ingest.messages import PCM_RATES
from streams.platform.audio_codec import StreamResampler, float_to_pcm16_bytes, mulaw_to_pcm16

#: headerless 8 kHz mono µ-law files, recognised by suffix
RAW_MULAW_SUFFIXES = (".ul", ".ulaw", ".mulaw", ".mu")
WAVE_FORMAT_MULAW = 7
WAVE_FORMAT_EXTENSIBLE = 0xFFFE


class AudioFileError(ValueError):
    """A file cannot be replayed; the message says why and what to do."""


@dataclass
class _Source:
    path: Path
    channels: int
    sample_rate: int
    frames: int
    mulaw_offset: int = -1  # >= 0: µ-law bytes start here (WAV data chunk or raw file)
    handle: Any = None  # sf.SoundFile or a binary file object

    @property
    def is_mulaw(self) -> bool:
        return self.mulaw_offset >= 0

    def open(self) -> None:
        if self.is_mulaw:
            fh: BinaryIO = open(self.path, "rb")  # noqa: SIM115 - closed by CallAudio.close()
            fh.seek(self.mulaw_offset)
            self.handle = fh
        else:
            self.handle = sf.SoundFile(str(self.path))

    def read(self, n: int) -> np.ndarray:
        """Next ``n`` frames as int16, shape (frames, channels); fewer at the end of the file."""
        if self.is_mulaw:
            data = self.handle.read(n * self.channels)
            data = data[: len(data) - len(data) % self.channels]
            return mulaw_to_pcm16(data).reshape(-1, self.channels)
        return self.handle.read(n, dtype="int16", always_2d=True)

    def read_mulaw(self, n: int) -> bytes:
        data = self.handle.read(n * self.channels)
        return data[: len(data) - len(data) % self.channels]

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


def _mulaw_wav_layout(path: Path) -> tuple[int, int, int, int] | None:
    """(channels, rate, data offset, data bytes) if ``path`` is a µ-law WAV, else None.

    libsndfile would decode µ-law to PCM; reading the data chunk ourselves keeps the original
    bytes (half the size of PCM16 on the wire).
    """
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        fmt: tuple[int, int, int] | None = None
        while True:
            hdr = f.read(8)
            if len(hdr) < 8:
                return None
            cid, (clen,) = hdr[:4], struct.unpack("<I", hdr[4:])
            if cid == b"fmt ":
                body = f.read(clen)
                if len(body) < 16:
                    return None
                tag, channels, rate = struct.unpack("<HHI", body[:8])
                if tag == WAVE_FORMAT_EXTENSIBLE and len(body) >= 26:
                    (tag,) = struct.unpack("<H", body[24:26])  # first 2 bytes of the SubFormat GUID
                fmt = (tag, channels, rate)
                f.seek(clen & 1, os.SEEK_CUR)
            elif cid == b"data":
                if fmt is None or fmt[0] != WAVE_FORMAT_MULAW:
                    return None
                offset = f.tell()
                return fmt[1], fmt[2], offset, min(clen, size - offset)  # streamed WAVs overstate clen
            else:
                f.seek(clen + (clen & 1), os.SEEK_CUR)


def probe(path: str | os.PathLike[str]) -> _Source:
    p = Path(path)
    if not p.is_file():
        raise AudioFileError(f"{p}: no such file")
    if p.suffix.lower() in RAW_MULAW_SUFFIXES:
        return _Source(p, channels=1, sample_rate=8000, frames=p.stat().st_size, mulaw_offset=0)
    layout = _mulaw_wav_layout(p)
    if layout is not None:
        channels, rate, offset, length = layout
        return _Source(
            p, channels=channels, sample_rate=rate, frames=length // max(channels, 1), mulaw_offset=offset
        )
    try:
        info = sf.info(str(p))
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioFileError(
            f"{p}: not a readable audio file ({exc}); use WAV, FLAC or raw µ-law (.ul/.ulaw/.mulaw)"
        ) from exc
    return _Source(p, channels=info.channels, sample_rate=info.samplerate, frames=info.frames)


def target_rate(rates: list[int]) -> int:
    """Keep a common accepted rate; else the smallest accepted rate >= the highest (max 48 kHz)."""
    if len(set(rates)) == 1 and rates[0] in PCM_RATES:
        return rates[0]
    top = max(rates)
    return next((r for r in PCM_RATES if r >= top), PCM_RATES[-1])


class CallAudio:
    """A call's audio, read in chunks as ``{"agent": bytes, "customer": bytes}``."""

    def __init__(self, paths: list[str | os.PathLike[str]]) -> None:
        if len(paths) not in (1, 2):
            raise AudioFileError(
                f"give one stereo file or two mono files (agent, customer), got {len(paths)} files"
            )
        self.sources = [probe(p) for p in paths]
        if len(self.sources) == 1:
            src = self.sources[0]
            if src.channels != 2:
                raise AudioFileError(
                    f"{src.path}: {src.channels} channel(s); a single file must be stereo (left = agent, "
                    "right = customer), or give two mono files"
                )
            # channel name -> (source index, column)
            self._layout = {"agent": (0, 0), "customer": (0, 1)}
        else:
            for src in self.sources:
                if src.channels != 1:
                    raise AudioFileError(
                        f"{src.path}: {src.channels} channels; a pair must be two mono files"
                    )
            self._layout = {"agent": (0, 0), "customer": (1, 0)}
        for src in self.sources:
            if src.sample_rate <= 0 or src.frames <= 0:
                raise AudioFileError(f"{src.path}: empty or without a sample rate")
        rates = [s.sample_rate for s in self.sources]
        if all(s.is_mulaw for s in self.sources) and set(rates) == {8000}:
            self.encoding, self.sample_rate = "mulaw", 8000
        else:
            self.encoding, self.sample_rate = "pcm16le", target_rate(rates)
        self.channels: tuple[str, ...] = ("agent", "customer")
        self.duration = max(s.frames / s.sample_rate for s in self.sources)

    def chunks(self, chunk_ms: int = 100) -> Generator[dict[str, bytes], None, None]:
        """Yield successive chunks of ``chunk_ms`` audio per channel until every channel ends."""
        for src in self.sources:
            src.open()
        resamplers = {
            ch: StreamResampler(self.sources[i].sample_rate, self.sample_rate)
            for ch, (i, _col) in self._layout.items()
            if self.sources[i].sample_rate != self.sample_rate
        }
        done: set[str] = set()
        try:
            while len(done) < len(self._layout):
                out: dict[str, bytes] = {}
                blocks = [self._read(src, chunk_ms) for src in self.sources]
                for ch, (i, col) in self._layout.items():
                    if ch in done:
                        continue
                    block = blocks[i]
                    last = len(block) == 0 or len(block) < self.sources[i].sample_rate * chunk_ms // 1000
                    payload = self._encode(block, col, resamplers.get(ch), last)
                    if payload:
                        out[ch] = payload
                    if last:
                        done.add(ch)
                if out:
                    yield out
        finally:
            self.close()

    def _read(self, src: _Source, chunk_ms: int) -> Any:
        n = max(1, src.sample_rate * chunk_ms // 1000)
        if self.encoding == "mulaw":
            data = src.read_mulaw(n)
            return np.frombuffer(data, dtype=np.uint8).reshape(-1, src.channels)
        return src.read(n)

    def _encode(self, block: np.ndarray, col: int, rs: StreamResampler | None, last: bool) -> bytes:
        column = block[:, col] if len(block) else block.reshape(-1)
        if self.encoding == "mulaw":
            return np.ascontiguousarray(column).tobytes()
        if rs is None:
            return np.ascontiguousarray(column, dtype="<i2").tobytes()
        return float_to_pcm16_bytes(rs.push(column.astype(np.float32) / 32768.0, last=last))

    def close(self) -> None:
        for src in self.sources:
            src.close()
