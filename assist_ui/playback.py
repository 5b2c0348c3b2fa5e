"""Recording playback for QA and supervisors: tickets, the playable file, HTTP ranges.

The browser's ``<audio>`` element cannot send the bearer token, and tokens never go in a
URL, so playback is two steps: ``POST /api/qa/calls/<id>/playback`` (bearer token, QA or
supervisor role, audited in the QA store *before* anything is returned) hands out a
short-lived random ticket scoped to that one call, and ``GET /recordings/<ticket>`` serves
the audio with HTTP Range support (the player seeks with ranges). The played file is a
stereo FLAC (left = agent, right = customer) built from the stored channels with the
spans where redacted PII was spoken (:mod:`assist_ui.audio_redaction`) replaced by a tone; it is built off the
event loop and cached per (call, recording version, spans).
"""

from __future__ import annotations

import asyncio
import io
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
    spans: tuple[Span, ...] = ()


class Tickets:
    """Random, short-lived, one-call playback tickets (in memory: a restart ends them)."""

    def __init__(self, ttl_s: float = 900.0, max_tickets: int = 10000) -> None:
        self.ttl_s = ttl_s
        self.max_tickets = max_tickets
        self._tickets: OrderedDict[str, Ticket] = OrderedDict()

    def issue(self, call_id: str, user_id: str, spans: tuple[Span, ...] = (), now: float | None = None) -> str:
        now = time.time() if now is None else now
        while len(self._tickets) >= self.max_tickets:
            self._tickets.popitem(last=False)
        token = secrets.token_urlsafe(24)
        self._tickets[token] = Ticket(call_id, user_id, now + self.ttl_s, spans)
        return token

    def resolve(self, token: str, now: float | None = None) -> Ticket | None:
        ticket = self._tickets.get(token)
        if ticket is None:
            return None
        if (time.time() if now is None else now) > ticket.expires_at:
            del self._tickets[token]
            return None
        return ticket


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
