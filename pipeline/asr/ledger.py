"""What the ASR worker holds about the calls it consumes, by audio partition (pure, no Kafka I/O).

One :class:`AsrCall` per call: its audio partition, what the checkpoint keeps about it
(language, ended, duration), and per channel the consumed frames (offsets, seq numbers,
capture times) a restart or a latency metric needs.  The :class:`PartitionLedger` holds
them with the per-partition state around them: consumed offsets, call events not yet safe
to commit, streams that finished (their late frames are dropped) and, after a restart,
the frames the checkpoint says were already transcribed.

Assignment and revocation go through the ledger, so a revoked partition takes all its
calls with it at once; a finished call stays (its partition and ended flag still decide
when its events may be committed) until no pending event refers to it.  Building a
partition's :class:`Checkpoint` from a snapshot of the streams is pure arithmetic here;
writing it is :mod:`pipeline.asr.worker_checkpoints`.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pipeline.asr.checkpoint import CallEntry, Checkpoint, FrameLog, StreamEntry, resume_offset, stream_key
from pipeline.asr.types import SR, ResumePoint

END_GRACE_S = 5.0  # after "ended", wait this long for the call's last audio frames
ORPHAN_EVENT_S = 300.0  # an event whose call never sent audio stops holding back the commit
CAPTURED_KEPT = 1200  # (frame end, captured_at) pairs per channel for the latency metric


@dataclass
class ChannelLog:
    """The consumed frames of one channel of a call."""

    frames: FrameLog = field(default_factory=FrameLog)  # offsets a restart may need, last seq
    audio_end: float | None = None  # call time where the latest accepted frame ends
    captured: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=CAPTURED_KEPT))

    def accepted(self, offset: int, end: float, seq: int, captured_at: float) -> None:
        self.frames.add(offset, end, seq)
        self.audio_end = max(self.audio_end or 0.0, end)
        if captured_at:
            self.captured.append((end, captured_at))

    def captured_at(self, t: float) -> float:
        """Wall-clock time call time ``t`` was captured at the source (0: unknown)."""
        for end, at in self.captured:
            if end >= t - 1e-3:
                return at - (end - t)
        return 0.0


@dataclass
class AsrCall:
    """Everything the worker holds about one call (the transcriber holds its audio streams)."""

    call_id: str
    partition: int | None = None  # audio partition; None until its first frame or checkpoint
    info: CallEntry = field(default_factory=CallEntry)  # language, ended, duration: what checkpoints keep
    channels: dict[str, ChannelLog] = field(default_factory=dict)
    end_deadline: float | None = None  # "ended" seen: end the call at this monotonic time at the latest
    last_audio: float = 0.0  # monotonic time of its last accepted frame
    finished: bool = False  # every stream decoded and out: only its bookkeeping remains

    def channel(self, name: str) -> ChannelLog:
        return self.channels.setdefault(name, ChannelLog())

    def audio_complete(self, now: float) -> bool:
        """All the call's audio is here: as long as ingest said it was, else a second of quiet."""
        if self.info.duration > 0:
            ends = [c.audio_end for c in self.channels.values() if c.audio_end is not None]
            return bool(ends) and min(ends) >= self.info.duration - 1e-3
        return now - self.last_audio > 1.0


class PendingEvent(NamedTuple):
    offset: int
    call_id: str
    seen_at: float  # monotonic


# A partition's stream snapshot, taken in the transcriber's state thread:
# (call id, channel) -> (resume point, first sample needed, end of the last final, language, source)
Snapshot = dict[tuple[str, str], tuple[ResumePoint | None, int | None, int, str | None, str]]


class PartitionLedger:
    def __init__(self) -> None:
        self.calls: dict[str, AsrCall] = {}
        self.detached: set[str] = set()  # calls whose partition moved away: another worker emits them
        # partition -> stream key of a finished stream -> offset of its last frame
        self.finished: defaultdict[int, dict[str, int]] = defaultdict(dict)
        self.skip: dict[str, int] = {}  # finished before a restart: skip frames up to this offset
        self.next_offset: dict[Hashable, int] = {}  # TopicPartition -> next offset to consume
        self.events: defaultdict[Hashable, deque[PendingEvent]] = defaultdict(deque)  # not yet committable

    # -- calls -------------------------------------------------------------------------
    def get(self, call_id: str) -> AsrCall | None:
        return self.calls.get(call_id)

    def call(self, call_id: str) -> AsrCall:
        c = self.calls.get(call_id)
        if c is None:
            c = self.calls[call_id] = AsrCall(call_id)
        return c

    def attach(self, call: AsrCall, partition: int) -> None:
        """The call's audio comes from ``partition`` (ours now)."""
        call.partition = partition
        call.finished = False
        self.detached.discard(call.call_id)

    def captured_at(self, call_id: str, channel: str, t: float) -> float:
        call = self.calls.get(call_id)
        log = call.channels.get(channel) if call is not None else None
        return log.captured_at(t) if log is not None else 0.0

    def drop_reason(self, partition: int, offset: int, skey: str) -> str | None:
        """Why a frame of stream ``skey`` at ``offset`` is not transcribed again (None: it is)."""
        if skey in self.skip and offset <= self.skip[skey]:
            return "duplicate"  # transcribed before the restart
        if skey in self.finished[partition]:
            return "late"
        return None

    def call_done(self, call_id: str) -> None:
        """Every stream of the call is decoded and out: keep only what later commits need."""
        call = self.calls.get(call_id)
        if call is None:
            return
        for ch, log in call.channels.items():
            if call.partition is not None:
                self.finished[call.partition][stream_key(call_id, ch)] = log.frames.last_offset
        call.channels.clear()
        call.end_deadline = None
        call.last_audio = 0.0
        call.finished = True

    def ending(self) -> list[AsrCall]:
        return [c for c in self.calls.values() if c.end_deadline is not None]

    # -- offsets and events ------------------------------------------------------------
    def consumed(self, tp: Hashable, offset: int) -> None:
        self.next_offset[tp] = offset + 1

    def event_seen(self, tp: Hashable, offset: int, call_id: str, now: float) -> None:
        self.events[tp].append(PendingEvent(offset, call_id, now))

    def event_commits(
        self, partitions: set[int] | None, saved: set[str], live: set[str], now: float
    ) -> dict[Any, int]:
        """Offsets of event partitions that are safe to commit (all of them: ``partitions`` None).

        An event may be committed once what it said is in a checkpoint (its call has audio
        state there) or no longer matters (the call is finished); events of calls with no
        audio yet hold the commit back, up to ORPHAN_EVENT_S.
        """

        def safe(ev: PendingEvent) -> bool:
            call = self.calls.get(ev.call_id)
            finished = call is None or (call.info.ended and ev.call_id not in live)
            return ev.call_id in saved or finished or now - ev.seen_at > ORPHAN_EVENT_S

        out = {}
        for tp, pending in self.events.items():
            if partitions is not None and tp.partition not in partitions:  # type: ignore[attr-defined]
                continue
            while pending and safe(pending[0]):
                pending.popleft()
            if tp in self.next_offset:
                out[tp] = pending[0].offset if pending else self.next_offset[tp]
        self._evict_finished()
        return out

    def _evict_finished(self) -> None:
        """Forget finished calls no pending event refers to (bounded memory on a long run).
        Their late frames are still dropped (``finished``); a later event of theirs counts
        as one of a finished call and is committed at once."""
        referenced = {ev.call_id for pending in self.events.values() for ev in pending}
        for call_id in [c for c, call in self.calls.items() if call.finished and c not in referenced]:
            del self.calls[call_id]

    # -- checkpoints -------------------------------------------------------------------
    def checkpoint(
        self, topic: str, partition: int, captured_next: int, snap: Snapshot, now: float
    ) -> Checkpoint:
        """The checkpoint of one audio partition: resume state of its streams and the offset to
        resume at (the oldest frame a replay needs, never past ``captured_next``)."""
        ck = Checkpoint(topic, partition, 0, written_at=now)
        needed = []
        for (call_id, ch), (rp, need, sup, lang, source) in snap.items():
            call = self.calls.get(call_id)
            if call is None or call.partition != partition or rp is None:
                continue
            ck.streams[stream_key(call_id, ch)] = StreamEntry(
                rp.window, rp.vad_state.to_dict(), rp.floor, sup
            )
            info = call.info
            ck.calls[call_id] = CallEntry(
                lang or info.language, source or info.source, info.ended, info.duration, info.queue
            )
            log = call.channels.get(ch)
            if log is not None and need is not None:
                needed.append(log.frames.first_needed(need / SR))
                log.frames.trim(need / SR)
        ck.offset = resume_offset(captured_next, needed)
        done = self.finished[partition]
        for k in [k for k, last in done.items() if last < ck.offset]:
            del done[k]  # its frames are all before the resume offset: never re-read
        ck.done = dict(done)
        return ck

    def restore(self, tp: Hashable, ck: Checkpoint) -> None:
        """Resume partition ``ck.partition`` from its checkpoint (the consumer seeks to ``ck.offset``)."""
        self.next_offset[tp] = ck.offset
        self.finished[ck.partition] = dict(ck.done)
        self.skip.update(ck.done)

    # -- rebalance ---------------------------------------------------------------------
    def revoke(self, partitions: set[int], revoked: Iterable[Hashable]) -> list[str]:
        """Partitions moved to another worker: forget their calls; returns the calls dropped."""
        gone = [c for c, call in self.calls.items() if call.partition in partitions]
        self.detached.update(gone)
        for c in gone:
            del self.calls[c]
        for p in partitions:
            self.finished.pop(p, None)
        for tp in revoked:
            self.next_offset.pop(tp, None)
            self.events.pop(tp, None)
        return gone
