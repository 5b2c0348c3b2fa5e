"""The local recording store: ``<root>/<call dir>/{agent,customer}.flac`` + ``meta.json``.

Each channel is laid out on the call's own time axis (frame ``start`` → sample offset), so gaps
become silence, duplicates land on themselves, and audio that arrives after a call was written
is merged into the existing file by writing it again. Files are written to a temporary name,
fsynced and renamed, so a reader never sees a half-written recording.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from pipeline.audio import decode_payload, mulaw_to_pcm16, resample
from pipeline.recordings.spool import SpooledFrame

CHANNELS = ("agent", "customer")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def call_dir_name(call_id: str) -> str:
    """A file-system-safe, collision-free folder name for any call id."""
    safe = _SAFE.sub("_", call_id)[:80].lstrip(".") or "_"
    if safe == call_id:
        return safe
    return f"{safe}~{hashlib.sha256(call_id.encode()).hexdigest()[:12]}"


class RecordingStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def call_dir(self, call_id: str) -> Path:
        return self.root / call_dir_name(call_id)

    def channel_path(self, call_id: str, channel: str) -> Path:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        return self.call_dir(call_id) / f"{channel}.flac"

    def meta(self, call_id: str) -> dict[str, Any] | None:
        try:
            meta = json.loads((self.call_dir(call_id) / "meta.json").read_text("utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return meta if isinstance(meta, dict) and meta.get("call_id") == call_id else None

    def read_channel(self, call_id: str, channel: str) -> tuple[np.ndarray, int] | None:
        """int16 samples and their rate, or None when the channel was not recorded."""
        path = self.channel_path(call_id, channel)
        if not path.exists():
            return None
        samples, rate = sf.read(path, dtype="int16")
        return samples, int(rate)

    def write_call(self, call_id: str, frames: Mapping[str, Mapping[int, SpooledFrame]]) -> dict[str, Any]:
        """Merge the given frames into the call's recording (blocking: run it off the event loop)."""
        folder = self.call_dir(call_id)
        folder.mkdir(parents=True, exist_ok=True)
        old = self.meta(call_id) or {}
        channels: dict[str, Any] = dict(old.get("channels", {}))
        for channel, by_seq in frames.items():
            if not by_seq:
                continue
            existing = self.read_channel(call_id, channel)
            samples, rate = _lay_out(by_seq.values(), existing)
            _write_atomic_flac(self.channel_path(call_id, channel), samples, rate)
            channels[channel] = {"sample_rate": rate, "seconds": round(samples.size / rate, 3)}
        meta = {"call_id": call_id, "channels": channels, "written_at": time.time(), "format": "flac"}
        _write_atomic_bytes(folder / "meta.json", json.dumps(meta, ensure_ascii=False).encode())
        return meta

    def expire(self, retention_days: float, now: float | None = None) -> list[str]:
        """Delete recordings written more than ``retention_days`` ago; returns their folder names."""
        if retention_days <= 0 or not self.root.exists():
            return []
        cutoff = (now or time.time()) - retention_days * 86400.0
        gone = []
        for folder in self.root.iterdir():
            meta_path = folder / "meta.json"
            try:
                written = float(json.loads(meta_path.read_text("utf-8")).get("written_at", 0))
            except (OSError, ValueError, AttributeError):
                continue
            if written < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                gone.append(folder.name)
        return gone


def _lay_out(frames: Iterable[SpooledFrame], existing: tuple[np.ndarray, int] | None) -> tuple[np.ndarray, int]:
    frames = sorted(frames, key=lambda f: f.seq)
    # one rate per channel file: the existing file's, else the frames' most common one
    rate = existing[1] if existing else Counter(f.sample_rate for f in frames).most_common(1)[0][0]
    pieces = []
    for f in frames:
        pieces.append((round(f.start * rate), _pcm16(f, rate)))
    length = max([off + p.size for off, p in pieces] + [existing[0].size if existing else 0])
    out = np.zeros(length, np.int16)
    if existing is not None:
        out[: existing[0].size] = existing[0]
    for off, p in pieces:
        out[off : off + p.size] = p
    return out, rate


def _pcm16(f: SpooledFrame, rate: int) -> np.ndarray:
    # exact samples when no resampling is needed (µ-law decodes losslessly to PCM16)
    if f.sample_rate == rate:
        if f.encoding == "mulaw":
            return mulaw_to_pcm16(f.payload)
        return np.frombuffer(f.payload[: len(f.payload) // 2 * 2], dtype="<i2").astype(np.int16)
    y = resample(decode_payload(f.payload, f.encoding), f.sample_rate, rate)
    return (np.clip(y, -1.0, 1.0) * 32767.0).astype(np.int16)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic_flac(path: Path, samples: np.ndarray, rate: int) -> None:
    tmp = path.with_suffix(".flac.tmp")
    with open(tmp, "wb") as f:
        sf.write(f, samples, rate, format="FLAC", subtype="PCM_16")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _write_atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
