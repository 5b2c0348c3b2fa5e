"""Durable append-only spool of audio frames, one file per (call, channel).

A frame is appended (and the file fsynced) before its Kafka offset is committed, so a crash
loses nothing: uncommitted frames are redelivered and appended again. Duplicates are harmless
because the reader keeps one frame per ``seq``. A torn last record (crash mid-write) is
ignored on read; it was never committed, so it comes back from Kafka.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

_REC = struct.Struct("<QdIBI")  # seq, start (s), sample_rate, encoding, payload length
_ENCODINGS = {"pcm16le": 0, "mulaw": 1}
_NAMES = {v: k for k, v in _ENCODINGS.items()}


@dataclass(frozen=True, slots=True)
class SpooledFrame:
    seq: int
    start: float
    sample_rate: int
    encoding: str
    payload: bytes


def encode(seq: int, start: float, sample_rate: int, encoding: str, payload: bytes) -> bytes:
    return _REC.pack(seq, start, sample_rate, _ENCODINGS[encoding], len(payload)) + payload


def append(path: Path, records: list[bytes], fsync: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(b"".join(records))
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def read(path: Path) -> dict[int, SpooledFrame]:
    """Frames by seq (the last copy of a seq wins; they are identical under at-least-once)."""
    data = path.read_bytes()
    out: dict[int, SpooledFrame] = {}
    pos = 0
    while pos + _REC.size <= len(data):
        seq, start, rate, enc, n = _REC.unpack_from(data, pos)
        end = pos + _REC.size + n
        if end > len(data) or enc not in _NAMES:
            break  # torn tail: never committed, Kafka redelivers it
        out[seq] = SpooledFrame(seq, start, rate, _NAMES[enc], data[pos + _REC.size : end])
        pos = end
    return out
