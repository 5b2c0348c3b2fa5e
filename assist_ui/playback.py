"""Recording playback for QA and supervisors: tickets, the playable file, HTTP ranges.

The browser's ``<audio>`` element cannot send the bearer token, and tokens never go in a
URL, so playback is two steps: ``POST /api/qa/calls/<id>/playback`` (bearer token, QA or
supervisor role, audited in the QA store *before* anything is returned) hands out a
short-lived ticket scoped to that one call and signed by the UI (:class:`Tickets`: valid on
every replica that shares the secret), and ``GET /recordings/<ticket>`` serves the audio with
HTTP Range support (the player seeks with ranges). The played file is a
stereo FLAC (left = agent, right = customer) built from the stored channels with the
spans where redacted PII was spoken (:mod:`assist_ui.audio_redaction`) replaced by a tone; it is built off the
event loop and cached per (call, recording version, spans).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from streams.platform.audio_codec import resample
from streams.platform.recording_store import CHANNELS, RecordingStore, make_store

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
Span = tuple[str, float, float]  # channel, start, end (seconds)


class RangeNotSatisfiable(ValueError):
    pass


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` → inclusive (start, end); None = whole file. One range only."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        raise RangeNotSatisfiable(header)
    if not m.group(1):  # suffix: the last N bytes
        n = int(m.group(2))
        if n == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - n), size - 1
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(header)
    return start, min(end, size - 1)


@dataclass(frozen=True, slots=True)
class Ticket:
    call_id: str
    user_id: str
    expires_at: float


class Tickets:
    """Short-lived, one-call playback tickets, signed (HMAC-SHA256) rather than remembered.

    The ticket carries its call, user and expiry and the signature of the three, so any UI
    replica that holds the same ``secret`` accepts it (behind a load balancer the ticket's GET
    lands on another pod than its POST) and a restart does not end it.  The secret comes from
    ``CALLASSIST_UI_PLAYBACK_SECRET``; without one each process draws a random secret (one
    replica only: the demo, a laptop).  A ticket cannot be forged or moved to another call
    without the secret; one that leaks is good for its call until it expires (15 min).
    """

    def __init__(self, secret: bytes | str | None = None, ttl_s: float = 900.0) -> None:
        if isinstance(secret, str):
            secret = secret.encode()
        self._key = secret or secrets.token_bytes(32)
        self.ttl_s = ttl_s

    def issue(self, call_id: str, user_id: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        # a nonce, so two tickets of the same call and second differ (and say nothing about each other)
        body = json.dumps([call_id, user_id, round(now + self.ttl_s, 3), secrets.token_hex(8)],
                          separators=(",", ":"), ensure_ascii=False).encode()
        return f"{_b64(body)}.{_b64(self._sign(body))}"

    def resolve(self, token: str, now: float | None = None) -> Ticket | None:
        """The ticket, or None when it is malformed, forged, for another secret or expired."""
        body_part, dot, sig_part = token.partition(".")
        if not dot or len(token) > 2048:
            return None
        try:
            body, sig = _unb64(body_part), _unb64(sig_part)
        except ValueError:
            return None
        if not hmac.compare_digest(sig, self._sign(body)):
            return None
        try:
            call_id, user_id, expires_at, _nonce = json.loads(body)
        except (ValueError, TypeError):
            return None
        if (time.time() if now is None else now) > float(expires_at):
            return None
        return Ticket(str(call_id), str(user_id), float(expires_at))

    def _sign(self, body: bytes) -> bytes:
        return hmac.new(self._key, b"callassist-playback\0" + body, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or not set(text) <= _B64_CHARS:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def tone_over(samples: np.ndarray, rate: int, spans: list[tuple[float, float]], freq: float = 1000.0) -> np.ndarray:
    """Replace each (start, end) second span of int16 ``samples`` by a quiet sine tone."""
    out = samples.copy()
    for start, end in spans:
        a, b = max(0, int(start * rate)), min(out.size, int(np.ceil(end * rate)))
        if b > a:
            t = np.arange(a, b) / rate
            out[a:b] = (0.1 * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)
    return out


class PlaybackAudio:
    def __init__(self, store: RecordingStore, cache_items: int = 16) -> None:
        self.store = store
        self.cache_items = cache_items
        self._cache: OrderedDict[tuple[str, float, tuple[Span, ...]], bytes] = OrderedDict()

    def exists(self, call_id: str) -> bool:
        return self.store.meta(call_id) is not None

    async def flac(self, call_id: str, spans: list[Span]) -> bytes | None:
        meta = await asyncio.to_thread(self.store.meta, call_id)
        if meta is None:
            return None
        key = (call_id, float(meta.get("written_at", 0)), tuple(spans))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        data = await asyncio.to_thread(self._build, call_id, spans)
        if data is None:
            return None
        self._cache[key] = data
        while len(self._cache) > self.cache_items:
            self._cache.popitem(last=False)
        return data

    def _build(self, call_id: str, spans: list[Span]) -> bytes | None:
        channels = {ch: self.store.read_channel(call_id, ch) for ch in CHANNELS}
        present = {ch: v for ch, v in channels.items() if v is not None}
        if not present:
            return None
        rate = max(r for _y, r in present.values())
        tracks = []
        for ch in CHANNELS:
            got = present.get(ch)
            if got is None:
                tracks.append(np.zeros(0, np.int16))
                continue
            y, r = got
            if r != rate:
                y = (np.clip(resample(y.astype(np.float32) / 32768.0, r, rate), -1, 1) * 32767).astype(np.int16)
            tracks.append(tone_over(y, rate, [(a, b) for c, a, b in spans if c in (ch, "")]))
        n = max(t.size for t in tracks)
        stereo = np.zeros((n, 2), np.int16)
        for i, t in enumerate(tracks):
            stereo[: t.size, i] = t
        buf = io.BytesIO()
        sf.write(buf, stereo, rate, format="FLAC", subtype="PCM_16")
        return buf.getvalue()


def recording_store(root: Path, backend: str = "local", bucket: str = "", prefix: str = "",
                    endpoint_url: str = "", region: str = "") -> PlaybackAudio:
    return PlaybackAudio(make_store(backend, root, bucket, prefix, endpoint_url, region))
