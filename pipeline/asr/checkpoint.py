"""Checkpoints: how a restarted ASR worker resumes without losing or duplicating finals.

Pure logic (JSON in, JSON out, offset arithmetic); the worker does the Kafka I/O.

Why a checkpoint and not just the committed offset: audio frames of many calls interleave
in one partition, so the committed offset is held back by the call that needs the oldest
audio, and replaying from it would hand the *other* calls audio they have already
transcribed.  Each checkpoint therefore stores, per audio partition:

- ``offset``: where to resume consuming (= the offset committed right after it);
- per live channel stream: the idle point to resume its VAD from (window index, LSTM
  state, pre-roll floor) and ``sup``, the end of its last produced final: replayed audio
  before the idle point is dropped sample-exactly, finals ending at or before ``sup`` are
  not produced again, and everything after is re-derived with the same segment ids;
- finished streams still inside the replay range (their frames are skipped);
- per call: the language and whether the call ended (from ``calls.events``).

It is written to the ``topic_asr_checkpoints`` partition with the same index as the audio
partition *before* the offsets are committed, and only after every transcript it accounts
for was acknowledged by the broker.  (Kafka's commit metadata would be the natural place,
but the embedded Tansu broker does not store it: measured, it returns an empty string.)
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field

CHECKPOINT_VERSION = 1
WARMUP_S = 0.05  # replay one frame's worth before the resume point: resampler filter warm-up


class CheckpointError(ValueError):
    """A checkpoint record that cannot be used (the worker then starts from the committed offset)."""


@dataclass
class FrameLog:
    """Offsets and end times of one stream's frames that a restart might need again."""

    entries: deque[tuple[int, float]] = field(default_factory=deque)  # (offset, frame end in call time)
    last_seq: int = -1
    last_offset: int = -1

    def add(self, offset: int, end: float, seq: int) -> None:
        self.entries.append((offset, end))
        self.last_seq = max(self.last_seq, seq)
        self.last_offset = max(self.last_offset, offset)

    def first_needed(self, from_time: float) -> int | None:
        """Offset of the first frame a replay needs to rebuild audio from ``from_time`` on."""
        t = from_time - WARMUP_S
        for offset, end in self.entries:
            if end > t:
                return offset
        return None

    def trim(self, from_time: float) -> None:
        t = from_time - WARMUP_S
        while len(self.entries) > 1 and self.entries[1][1] <= t:
            self.entries.popleft()


def resume_offset(captured_next: int, needed: list[int | None]) -> int:
    """Where a restart must resume: the oldest needed frame, never past what was captured."""
    offsets = [o for o in needed if o is not None]
    return min([captured_next, *offsets])


def stream_key(call_id: str, channel: str) -> str:
    return f"{call_id}\x1f{channel}"


def split_key(key: str) -> tuple[str, str]:
    call_id, _, channel = key.rpartition("\x1f")
    if not call_id or not channel:
        raise CheckpointError(f"bad stream key {key!r}")
    return call_id, channel


@dataclass
class StreamEntry:
    window: int
    vad: dict  # models.whisper.vad.VadState.to_dict()
    floor: int
    suppress_until: int

    def to_json(self) -> dict:
        return {"w": self.window, "vad": self.vad, "floor": self.floor, "sup": self.suppress_until}

    @classmethod
    def from_json(cls, d: dict) -> StreamEntry:
        try:
            return cls(int(d["w"]), dict(d["vad"]), int(d["floor"]), int(d["sup"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"bad stream entry: {exc}") from exc


@dataclass
class CallEntry:
    language: str = ""
    source: str = ""
    ended: bool = False
    duration: float = 0.0
    queue: str = ""  # the call's queue (its domain vocabulary) from the open event

    @classmethod
    def from_json(cls, d: dict) -> CallEntry:
        # keys a newer worker added are ignored (a rolling update mixes versions)
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class Checkpoint:
    topic: str
    partition: int
    offset: int
    streams: dict[str, StreamEntry] = field(default_factory=dict)
    done: dict[str, int] = field(default_factory=dict)  # stream key -> offset of its last frame
    calls: dict[str, CallEntry] = field(default_factory=dict)
    written_at: float = 0.0

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "v": CHECKPOINT_VERSION,
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "streams": {k: s.to_json() for k, s in self.streams.items()},
                "done": self.done,
                "calls": {k: c.__dict__ for k, c in self.calls.items()},
                "written_at": self.written_at,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> Checkpoint:
        if not data:
            raise CheckpointError("empty checkpoint record")
        try:
            d = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"checkpoint is not JSON ({exc})") from exc
        if not isinstance(d, dict) or d.get("v") != CHECKPOINT_VERSION:
            raise CheckpointError(
                f"unsupported checkpoint version {d.get('v') if isinstance(d, dict) else None!r}"
            )
        try:
            return cls(
                topic=str(d["topic"]),
                partition=int(d["partition"]),
                offset=int(d["offset"]),
                streams={str(k): StreamEntry.from_json(v) for k, v in d.get("streams", {}).items()},
                done={str(k): int(v) for k, v in d.get("done", {}).items()},
                calls={str(k): CallEntry.from_json(v) for k, v in d.get("calls", {}).items()},
                written_at=float(d.get("written_at", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"bad checkpoint: {exc}") from exc
