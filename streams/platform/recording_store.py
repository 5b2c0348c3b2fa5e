"""The recording store: ``<call dir>/{agent,customer}.flac`` + ``meta.json``, in a local folder
(the default) or an S3-compatible bucket (:class:`S3RecordingStore`, same layout as keys).

Each channel is laid out on the call's own time axis (frame ``start`` → sample offset), so gaps
become silence, duplicates land on themselves, and audio that arrives after a call was written
is merged into the existing file by writing it again. Local files are written to a temporary
name, fsynced and renamed (an S3 PUT is atomic), so a reader never sees a half-written recording.
"""

from __future__ import annotations

import hashlib
import io
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

from streams.platform.audio_codec import decode_payload, mulaw_to_pcm16, resample
from streams.platform.recording_spool import SpooledFrame

CHANNELS = ("agent", "customer")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def call_dir_name(call_id: str) -> str:
    """A file-system-safe, collision-free folder name for any call id."""
    safe = _SAFE.sub("_", call_id)[:80].lstrip(".") or "_"
    if safe == call_id:
        return safe
    return f"{safe}~{hashlib.sha256(call_id.encode()).hexdigest()[:12]}"


class RecordingStore:
    """Local folder back end; subclasses replace the four byte-level primitives."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- primitives (blocking) ---------------------------------------------------------------
    def _get(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def _put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic_bytes(path, data)

    def _call_dirs(self) -> list[str]:
        return [p.name for p in self.root.iterdir() if p.is_dir()] if self.root.exists() else []

    def _delete_call_dir(self, name: str) -> None:
        shutil.rmtree(self.root / name, ignore_errors=True)

    # -- API ---------------------------------------------------------------------------------
    def call_dir(self, call_id: str) -> Path:
        return self.root / call_dir_name(call_id)

    def channel_path(self, call_id: str, channel: str) -> Path:
        return self.root / self._channel_key(call_id, channel)

    @staticmethod
    def _channel_key(call_id: str, channel: str) -> str:
        if channel not in CHANNELS:
            raise ValueError(f"unknown channel {channel!r}")
        return f"{call_dir_name(call_id)}/{channel}.flac"

    def meta(self, call_id: str) -> dict[str, Any] | None:
        data = self._get(f"{call_dir_name(call_id)}/meta.json")
        try:
            meta = json.loads(data) if data is not None else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return meta if isinstance(meta, dict) and meta.get("call_id") == call_id else None

    def read_channel(self, call_id: str, channel: str) -> tuple[np.ndarray, int] | None:
        """int16 samples and their rate, or None when the channel was not recorded."""
        data = self._get(self._channel_key(call_id, channel))
        if data is None:
            return None
        samples, rate = sf.read(io.BytesIO(data), dtype="int16")
        return samples, int(rate)

    def write_call(self, call_id: str, frames: Mapping[str, Mapping[int, SpooledFrame]]) -> dict[str, Any]:
        """Merge the given frames into the call's recording (blocking: run it off the event loop)."""
        old = self.meta(call_id) or {}
        channels: dict[str, Any] = dict(old.get("channels", {}))
        for channel, by_seq in frames.items():
            if not by_seq:
                continue
            existing = self.read_channel(call_id, channel)
            samples, rate = _lay_out(by_seq.values(), existing)
            buf = io.BytesIO()
            sf.write(buf, samples, rate, format="FLAC", subtype="PCM_16")
            self._put(self._channel_key(call_id, channel), buf.getvalue())
            channels[channel] = {"sample_rate": rate, "seconds": round(samples.size / rate, 3)}
        meta = {"call_id": call_id, "channels": channels, "written_at": time.time(), "format": "flac"}
        self._put(f"{call_dir_name(call_id)}/meta.json", json.dumps(meta, ensure_ascii=False).encode())
        return meta

    def expire(self, retention_days: float, now: float | None = None) -> list[str]:
        """Delete recordings written more than ``retention_days`` ago; returns their folder names."""
        if retention_days <= 0:
            return []
        cutoff = (now or time.time()) - retention_days * 86400.0
        gone = []
        for name in self._call_dirs():
            try:
                written = float(json.loads(self._get(f"{name}/meta.json") or b"{}").get("written_at", 0))
            except (ValueError, AttributeError):
                continue
            if 0 < written < cutoff:
                self._delete_call_dir(name)
                gone.append(name)
        return gone


class S3RecordingStore(RecordingStore):
    """The same layout as object keys in an S3-compatible bucket (AWS S3, MinIO, Ceph, OSS …).

    Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
    a profile, an IAM role); ``endpoint_url`` points at a non-AWS store.
    """

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None,
                 region: str | None = None, client: Any = None) -> None:
        super().__init__(Path("/nonexistent"))
        import boto3  # optional dependency: pip install callassist[s3]

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url or None, region_name=region or None)

    def channel_path(self, call_id: str, channel: str) -> Path:
        raise NotImplementedError("S3 recordings have keys, not paths")

    def _get(self, key: str) -> bytes | None:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read())
        except self.client.exceptions.NoSuchKey:
            return None

    def _put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def _call_dirs(self) -> list[str]:
        names = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"
        ):
            names += [p["Prefix"][len(self.prefix):].rstrip("/") for p in page.get("CommonPrefixes", [])]
        return names

    def _delete_call_dir(self, name: str) -> None:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=f"{self.prefix}{name}/")
        keys = [{"Key": o["Key"]} for o in listed.get("Contents", [])]
        if keys:
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})


def make_store(backend: str, root: Path, bucket: str = "", prefix: str = "", endpoint_url: str = "",
               region: str = "") -> RecordingStore:
    if backend == "s3":
        if not bucket:
            raise ValueError("the s3 recording backend needs RECORDINGS_S3_BUCKET")
        return S3RecordingStore(bucket, prefix, endpoint_url or None, region or None)
    return RecordingStore(root)


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


def _write_atomic_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
