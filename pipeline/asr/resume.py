"""Where a restarted worker may resume one channel: the endpointer's recent idle points.

Pure bookkeeping for :class:`pipeline.asr.stream.ChannelStream`.  At an idle point (no
utterance open) the VAD state fully describes the channel, so replaying the audio from
there with that state rebuilds the same utterances and segment ids.  The checkpoint takes
the latest idle point at or before the onset of every utterance whose final is not out.
"""

from __future__ import annotations

from collections import deque

from pipeline.asr.types import ResumePoint

MAX_CANDIDATES = 64


class ResumeCandidates:
    def __init__(self) -> None:
        self._c: deque[ResumePoint] = deque()  # oldest first

    def __len__(self) -> int:
        return len(self._c)

    def add(self, point: ResumePoint) -> None:
        self._c.append(point)
        while len(self._c) > MAX_CANDIDATES:
            self._c.popleft()

    def latest(self, limit: int | None) -> ResumePoint | None:
        """The latest candidate at or before VAD window ``limit`` (None: no limit)."""
        best = None
        for cand in self._c:
            if limit is None or cand.window <= limit:
                best = cand
        return best

    def drop_before(self, point: ResumePoint | None) -> None:
        """Candidates older than the latest usable one (``point``) are useless: drop them."""
        while self._c and self._c[0] is not point and len(self._c) > 1:
            if point is None or self._c[0].window >= point.window:
                break
            self._c.popleft()
