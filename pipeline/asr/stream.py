"""One channel of one call: audio buffer, VAD, utterances, decode jobs, output segments.

Pure logic: no Kafka, no event loop, no Whisper.  The VAD is injected (anything with
``process``/``state``/``restore``/``next_window``, normally :class:`models.whisper.vad.StreamingVad`),
and decoding is done by the caller: the stream hands out :class:`Job` objects and turns
results back into :class:`SegmentOut` records.

Why utterances and not a re-decoded rolling buffer for final text: on CPU every Whisper
call costs at least a few hundred ms, and re-decoding a growing buffer every 0.5-1 s fell
far behind one live call (design.md).  So:

- finals: each VAD utterance (speech plus ``speech_pad_ms`` either side) is decoded once,
  whole, when the VAD closes it (``min_silence_ms`` of silence), when it reaches
  ``max_utterance_s`` (cut at the least speech-like window of its last
  ``split_lookback_s``), or at the end of the call.  Boundaries depend only on the audio,
  so a restarted worker re-derives the same segments and the same ids;
- partials: the open utterance is re-decoded only when the scheduler is idle, and words
  are stabilised by LocalAgreement-2 (:mod:`pipeline.asr.agreement`,
  :mod:`pipeline.asr.partials`; optional early finals cut confirmed sentences off a turn).

All positions are absolute sample indexes on the channel's 16 kHz call-time line (sample
``i`` is call time ``i / 16000``), so segment ids, checkpoints and word times never drift
however long the call is.  Memory is bounded: audio before the oldest sample still needed
is dropped after every push.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np

from pipeline.asr.agreement import LocalAgreement, TimedWord
from pipeline.asr.endpointing import Endpointer, Offset, Onset
from pipeline.asr.partials import PartialsMixin
from pipeline.asr.types import (  # noqa: F401 - re-exported: the rest of the package imports them from here
    MS,
    SR,
    WINDOW,
    Job,
    ResumePoint,
    SegmentOut,
    StreamConfig,
    StreamFinished,
    Utterance,
    Vad,
)


class ChannelStream(PartialsMixin):
    def __init__(
        self,
        call_id: str,
        channel: str,
        vad: Vad,
        config: StreamConfig,
        resume: ResumePoint | None = None,
        suppress_until: int = 0,
        clock=time.monotonic,
    ) -> None:
        self.call_id = call_id
        self.channel = channel
        self.vad = vad
        self.config = config
        self.clock = clock
        self.endpointer = Endpointer(config.endpoint)
        self.language: str | None = None  # set by the call (open message or detection)
        self.buf = np.zeros(0, np.float32)
        self.buf_start: int | None = None  # absolute sample of buf[0]
        self.write_pos: int | None = None
        self.floor = 0
        self.open: Utterance | None = None
        self.closed: deque[Utterance] = deque()
        self.in_flight: Job | None = None
        self.final_until = suppress_until  # end of the last final handed out
        self.suppress_until = suppress_until  # finals ending here or before were produced before a restart
        self.finished = False
        self.frames_in = 0
        self._probs: deque[float] = deque()  # probabilities of windows from _probs_start on
        self._probs_start = 0
        self._resume_candidates: deque[ResumePoint] = deque()
        self._pending_resume = resume
        self._agreement: LocalAgreement | None = None
        self._partial_rev = 0
        self._last_partial_end = 0
        self._last_partial_clock = 0.0
        self._partial_emitted: set[int] = set()  # utterance ids with a partial on the wire
        self._quiet_run = 0  # consecutive windows below the VAD threshold inside the open utterance
        if resume is not None:
            self.vad.restore(resume.vad_state)
            self.floor = resume.floor
            self._resume_candidates.append(resume)

    # -- audio in ------------------------------------------------------------------------
    @property
    def key(self) -> tuple[str, str]:
        return (self.call_id, self.channel)

    def push(self, samples: np.ndarray, start: int) -> None:
        """Append 16 kHz samples whose first one is at absolute position ``start``."""
        if self.finished:
            raise StreamFinished(f"{self.call_id}/{self.channel}: audio after the end of the stream")
        samples = np.asarray(samples, dtype=np.float32)
        if self.buf_start is None:
            self._begin(start)
        assert self.write_pos is not None and self.buf_start is not None
        if start > self.write_pos:
            gap = start - self.write_pos
            if gap > self.config.max_gap_s * SR:
                raise ValueError(f"{self.call_id}/{self.channel}: audio jumps {gap / SR:.0f} s ahead")
            samples = np.concatenate([np.zeros(gap, np.float32), samples])  # lost audio reads as silence
        elif start < self.write_pos:
            samples = samples[self.write_pos - start :]  # overlap (re-delivered audio): keep the new part
        if samples.size == 0:
            return
        self.frames_in += 1
        self.buf = np.concatenate([self.buf, samples])
        self.write_pos += samples.size
        self._run_vad()
        self._trim()

    def _begin(self, start: int) -> None:
        resume = self._pending_resume
        if resume is not None:
            # Re-delivered audio from before the resume point is dropped sample-exactly.
            first = min(resume.window * WINDOW, resume.floor)
            self.buf_start = self.write_pos = max(first, 0)
            self._probs_start = resume.window
            if start > self.buf_start:
                self.buf_start = self.write_pos = start
            self._pending_resume = None
            return
        # Align the first window to the grid: the VAD sees the same windows however the
        # audio was framed.
        first_window = start // WINDOW
        self.buf_start = self.write_pos = first_window * WINDOW
        self.floor = self.buf_start
        self._probs_start = first_window
        self.vad.reset(first_window)
        # The stream's start is its first resume point (idle, fresh VAD state).
        self._resume_candidates.append(ResumePoint(first_window, self.vad.state(), self.floor))

    def _run_vad(self) -> None:
        assert self.buf_start is not None
        if self.vad.next_window * WINDOW < self.buf_start:
            # Re-delivered audio began after the resume window (should not happen when the
            # consumer seeks to the checkpoint): skip ahead, the LSTM state is then approximate.
            self.vad.reset(-(-self.buf_start // WINDOW))
            self._probs_start = self.vad.next_window
        first = self.vad.next_window
        probs = self.vad.process(
            self.buf[self.vad.next_window * WINDOW - self.buf_start :], self.vad.next_window * WINDOW
        )
        for i, p in enumerate(probs):
            self._on_window(first + i, float(p))
        if not self.endpointer.in_speech:
            # An idle point: resuming here with this VAD state rebuilds the same utterances.
            # An onset after it never pads back further than speech_pad_ms.
            nw = self.vad.next_window
            floor = max(self.floor, nw * WINDOW - self.config.endpoint.speech_pad_ms * MS)
            self._resume_candidates.append(ResumePoint(nw, self.vad.state(), floor))
            while len(self._resume_candidates) > 64:
                self._resume_candidates.popleft()

    def _on_window(self, k: int, p: float) -> None:
        if not self._probs and self._probs_start != k:
            self._probs_start = k
        self._probs.append(p)
        cfg = self.config
        ev = self.endpointer.push(k, p)
        pad = cfg.endpoint.speech_pad_ms * MS
        if isinstance(ev, Onset):
            # Audio before suppress_until was finalised before a restart: a replayed
            # utterance that straddles it continues from there (same id as it would have had).
            start = max(k * WINDOW - pad, self.floor, self.buf_start or 0, self.suppress_until)
            self.open = Utterance(start=start, run_onset=k)
            self._agreement = None
            self._partial_rev = 0
            self._quiet_run = 0
        if self.open is not None:
            self.open.windows += 1
            if p >= cfg.endpoint.threshold:
                self.open.voiced += 1
                self._quiet_run = 0
            else:
                self._quiet_run += 1
        if isinstance(ev, Offset) and self.open is not None:
            end = min(ev.silence_window * WINDOW + pad, (k + 1) * WINDOW)
            self._close(end, forced=False)
        elif self.open is not None and (k + 1) * WINDOW - self.open.start >= cfg.max_utterance_s * SR:
            self._split(k)
        elif self.open is not None and self._at_natural_pause(k):
            self._split_at(k - self._quiet_run // 2)

    def _at_natural_pause(self, k: int) -> bool:
        """A long utterance reached a short pause (a breath between sentences): end it there,
        so finals come every few seconds in a long turn, at a point where no word is cut."""
        cfg = self.config
        assert self.open is not None
        if not cfg.pause_split_after_s or self._quiet_run * 32 < cfg.pause_split_ms:
            return False
        pause_start = (k + 1 - self._quiet_run) * WINDOW
        return pause_start - self.open.start >= cfg.pause_split_after_s * SR

    def _split(self, k: int) -> None:
        """Close an over-long utterance at the least speech-like window of its tail."""
        assert self.open is not None
        cfg = self.config
        lo = max(
            (self.open.start + int((cfg.max_utterance_s - cfg.split_lookback_s) * SR)) // WINDOW,
            self._probs_start,
        )
        probs = np.array([self._probs[j - self._probs_start] for j in range(lo, k + 1)], np.float32)
        self._split_at(lo + int(len(probs) - 1 - np.argmin(probs[::-1])))  # the latest minimum

    def _split_at(self, j: int) -> None:
        """Close the open utterance in the middle of VAD window j; the speech goes on after it."""
        assert self.open is not None
        cfg = self.config
        last = self._probs_start + len(self._probs) - 1
        cut = j * WINDOW + WINDOW // 2
        after = np.array([self._probs[i - self._probs_start] for i in range(j + 1, last + 1)], np.float32)
        run_onset = self.open.run_onset
        self._close(cut, forced=True)
        self.open = Utterance(
            start=cut,
            voiced=int((after >= cfg.endpoint.threshold).sum()),
            windows=len(after),
            run_onset=run_onset,
        )
        self._quiet_run = 0

    def _close(self, end: int, forced: bool) -> None:
        assert self.open is not None
        utt, self.open = self.open, None
        utt.end = max(end, utt.start)
        utt.forced = forced
        self.floor = utt.end
        self._agreement = None
        if utt.voiced * 32 >= self.config.min_speech_ms and utt.end > self.suppress_until:
            self.closed.append(utt)
        elif utt.ms_id in self._partial_emitted:
            self.closed.append(utt)  # still decoded: its partial must be replaced by a final
        utt.ready_at = self.clock()

    def finish(self) -> None:
        """End of call (or of the channel): the open utterance is closed as it stands."""
        if self.finished:
            return
        if self.open is not None and self.write_pos is not None:
            self._close(self.write_pos, forced=False)
        self.finished = True

    # -- jobs ----------------------------------------------------------------------------
    def has_final_job(self) -> bool:
        return self.in_flight is None and bool(self.closed)

    def final_ready_at(self) -> float:
        return self.closed[0].ready_at if self.closed else float("inf")

    def next_job(self, kind: str) -> Job | None:
        if self.in_flight is not None:
            return None
        if kind == "final" and self.closed:
            utt = self.closed[0]
            assert utt.end is not None
            job = Job(
                self,
                "final",
                utt.start,
                utt.end,
                self._audio(utt.start, utt.end),
                self.language,
                utt.voiced / max(utt.windows, 1),
                utt.ready_at,
                utt,
            )
        elif kind == "partial" and self.wants_partial():
            assert self.open is not None
            if self._agreement is None:
                self._agreement = LocalAgreement(self.open.start / SR, self.config.partial_max_buffer_s)
            start = max(int(self._agreement.buffer_start * SR), self.open.start)
            end = self.vad.next_window * WINDOW
            job = Job(
                self,
                "partial",
                start,
                end,
                self._audio(start, end),
                self.language,
                self.open.voiced / max(self.open.windows, 1),
                self.clock(),
                self.open,
            )
            self._last_partial_end = end
            self._last_partial_clock = self.clock()
        else:
            return None
        self.in_flight = job
        return job

    def _audio(self, start: int, end: int) -> np.ndarray:
        assert self.buf_start is not None
        a = self.buf[max(start - self.buf_start, 0) : max(end - self.buf_start, 0)]
        return a.copy()

    # -- results -------------------------------------------------------------------------
    def on_result(
        self, job: Job, text: str, language: str, words: list[Any], failed: bool = False
    ) -> list[SegmentOut]:
        """Turn a decode result into output segments.  ``words`` times are job-relative."""
        if self.in_flight is job:
            self.in_flight = None
        offset = job.start / SR
        timed = [
            TimedWord(round(offset + w.start, 3), round(offset + w.end, 3), w.text, float(w.probability))
            for w in words
        ]
        if job.kind == "final":
            utt = job.utterance
            assert utt is not None and utt.end is not None
            if self.closed and self.closed[0] is utt:
                self.closed.popleft()
            self.final_until = max(self.final_until, utt.end)
            had_partial = utt.ms_id in self._partial_emitted
            self._partial_emitted.discard(utt.ms_id)
            if failed or (not text and not had_partial) or utt.end <= self.suppress_until:
                return []
            return [self._segment(utt, True, text, language, timed, utt.end, len(text))]
        return self._partial_result(job, timed, language, failed)

    def _segment(
        self, utt: Utterance, final: bool, text: str, language: str, words, end: int, stable: int
    ) -> SegmentOut:
        rev = self._partial_rev if not final else self._partial_rev + 1
        return SegmentOut(
            call_id=self.call_id,
            channel=self.channel,
            segment_id=f"{self.call_id}:{self.channel}:{utt.ms_id}",
            is_final=final,
            start=round(utt.start / SR, 3),
            end=round(end / SR, 3),
            text=text,
            language=language,
            words=list(words),
            revision=rev,
            stable_len=stable,
        )

    # -- state ---------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """Finished and nothing left to decode."""
        return self.finished and not self.closed and self.in_flight is None

    def resume_point(self) -> ResumePoint | None:
        """The latest idle point before any audio whose final is not yet out (None: nothing to resume)."""
        if self.done:
            return None
        # Valid: an idle point at or before the onset of every utterance whose final is not
        # out yet (the endpointer was idle there, so a replay from it finds the same onsets).
        pending = [u.run_onset for u in self.closed]
        if (
            self.in_flight is not None
            and self.in_flight.kind == "final"
            and self.in_flight.utterance is not None
        ):
            pending.append(self.in_flight.utterance.run_onset)
        if self.open is not None:
            pending.append(self.open.run_onset)
        limit = min(pending) if pending else None
        best = None
        for cand in self._resume_candidates:
            if limit is None or cand.window <= limit:
                best = cand
        return best

    def needed_from(self) -> int | None:
        """Earliest absolute sample a restart would need re-delivered (None: nothing)."""
        rp = self.resume_point()
        if rp is None:
            return None
        return max(min(rp.window * WINDOW, rp.floor), 0)

    def _trim(self) -> None:
        """Drop audio and VAD history nobody can need again (bounded memory)."""
        assert self.buf_start is not None
        pad = self.config.endpoint.speech_pad_ms * MS
        keep = self.vad.next_window * WINDOW - pad  # pre-roll of a future onset
        if self.open is not None:
            keep = min(keep, self.open.start)
        for u in self.closed:
            keep = min(keep, u.start)
        if self.in_flight is not None:
            keep = min(keep, self.in_flight.start)
        keep = max(keep, self.buf_start)
        if keep > self.buf_start:
            self.buf = self.buf[keep - self.buf_start :].copy()
            self.buf_start = keep
        # VAD probabilities: only the open utterance's tail is ever looked at (splits).
        keep_w = self.vad.next_window - int(self.config.max_utterance_s * SR) // WINDOW - 2
        while self._probs and self._probs_start < keep_w:
            self._probs.popleft()
            self._probs_start += 1
        # Resume candidates older than the latest usable one are useless.
        rp = self.resume_point()
        while (
            self._resume_candidates
            and self._resume_candidates[0] is not rp
            and len(self._resume_candidates) > 1
        ):
            if rp is None or self._resume_candidates[0].window >= rp.window:
                break
            self._resume_candidates.popleft()

    def memory_bytes(self) -> int:
        return int(self.buf.nbytes + 8 * len(self._probs) + 1200 * len(self._resume_candidates))
