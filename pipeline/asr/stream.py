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
  are stabilised by LocalAgreement-2 (:mod:`pipeline.asr.agreement`); the stream owns a
  :class:`pipeline.asr.partials.PartialDecoder` for that (optional early finals cut
  confirmed sentences off a turn).

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

from models.whisper.decoding import Word
from pipeline.asr.buffers import SampleBuffer, WindowProbs
from pipeline.asr.endpointing import Endpointer, Offset, Onset
from pipeline.asr.partials import PartialDecoder
from pipeline.asr.resume import ResumeCandidates
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


class ChannelStream:
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
        self.domain = ""  # the call's queue (its domain vocabulary); set by the call
        self.audio = SampleBuffer()  # the samples an utterance or a future onset may still need
        self.floor = 0
        self.open: Utterance | None = None
        self.closed: deque[Utterance] = deque()
        self.in_flight: Job | None = None
        self.final_until = suppress_until  # end of the last final handed out
        self.suppress_until = suppress_until  # finals ending here or before were produced before a restart
        self.finished = False
        self.frames_in = 0
        self.probs = WindowProbs()  # VAD probabilities of the recent windows
        self.partials = PartialDecoder(config)
        self.resume_candidates = ResumeCandidates()
        self._pending_resume = resume
        self._quiet_run = 0  # consecutive windows below the VAD threshold inside the open utterance
        if resume is not None:
            self.vad.restore(resume.vad_state)
            self.floor = resume.floor
            self.resume_candidates.add(resume)

    # -- audio in ------------------------------------------------------------------------
    def push(self, samples: np.ndarray, start: int) -> None:
        """Append 16 kHz samples whose first one is at absolute position ``start``."""
        if self.finished:
            raise StreamFinished(f"{self.call_id}/{self.channel}: audio after the end of the stream")
        samples = np.asarray(samples, dtype=np.float32)
        if self.audio.start is None:
            self._begin(start)
        # Lost audio reads as silence; of re-delivered audio only the new part is kept.
        samples = self.audio.place(
            samples, start, int(self.config.max_gap_s * SR), f"{self.call_id}/{self.channel}"
        )
        if samples.size == 0:
            return
        self.frames_in += 1
        self.audio.append(samples)
        self._run_vad()
        self._trim()

    def _begin(self, start: int) -> None:
        resume = self._pending_resume
        if resume is not None:
            # Re-delivered audio from before the resume point is dropped sample-exactly.
            first = min(resume.window * WINDOW, resume.floor)
            self.audio.begin_at(max(first, 0))
            self.probs.start = resume.window
            if start > max(first, 0):
                self.audio.begin_at(start)
            self._pending_resume = None
            return
        # Align the first window to the grid: the VAD sees the same windows however the
        # audio was framed.
        first_window = start // WINDOW
        self.audio.begin_at(first_window * WINDOW)
        self.floor = first_window * WINDOW
        self.probs.start = first_window
        self.vad.reset(first_window)
        # The stream's start is its first resume point (idle, fresh VAD state).
        self.resume_candidates.add(ResumePoint(first_window, self.vad.state(), self.floor))

    def _run_vad(self) -> None:
        buf_start = self.audio.start
        assert buf_start is not None
        if self.vad.next_window * WINDOW < buf_start:
            # Re-delivered audio began after the resume window (should not happen when the
            # consumer seeks to the checkpoint): skip ahead, the LSTM state is then approximate.
            self.vad.reset(-(-buf_start // WINDOW))
            self.probs.start = self.vad.next_window
        first = self.vad.next_window
        probs = self.vad.process(self.audio.since(first * WINDOW), first * WINDOW)
        for i, p in enumerate(probs):
            self._on_window(first + i, float(p))
        if not self.endpointer.in_speech:
            # An idle point: resuming here with this VAD state rebuilds the same utterances.
            # An onset after it never pads back further than speech_pad_ms.
            nw = self.vad.next_window
            floor = max(self.floor, nw * WINDOW - self.config.endpoint.speech_pad_ms * MS)
            self.resume_candidates.add(ResumePoint(nw, self.vad.state(), floor))

    def _on_window(self, k: int, p: float) -> None:
        self.probs.append(k, p)
        cfg = self.config
        ev = self.endpointer.push(k, p)
        pad = cfg.endpoint.speech_pad_ms * MS
        if isinstance(ev, Onset):
            # Audio before suppress_until was finalised before a restart: a replayed
            # utterance that straddles it continues from there (same id as it would have had).
            start = max(k * WINDOW - pad, self.floor, self.audio.start or 0, self.suppress_until)
            self.open = Utterance(start=start, run_onset=k)
            self.partials.restart()
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
            self.probs.start,
        )
        probs = np.array(self.probs.between(lo, k), np.float32)
        self._split_at(lo + int(len(probs) - 1 - np.argmin(probs[::-1])))  # the latest minimum

    def _split_at(self, j: int) -> None:
        """Close the open utterance in the middle of VAD window j; the speech goes on after it."""
        assert self.open is not None
        cfg = self.config
        cut = j * WINDOW + WINDOW // 2
        after = np.array(self.probs.between(j + 1, self.probs.last), np.float32)
        run_onset = self.open.run_onset
        carried = self.partials.carry_over(cut)  # words stable after the cut stay stable after it
        self._close(cut, forced=True)
        self.open = Utterance(
            start=cut,
            voiced=int((after >= cfg.endpoint.threshold).sum()),
            windows=len(after),
            run_onset=run_onset,
        )
        self.partials.resume_with(carried)
        self._quiet_run = 0

    def _close(self, end: int, forced: bool) -> None:
        assert self.open is not None
        utt, self.open = self.open, None
        utt.end = max(end, utt.start)
        utt.forced = forced
        self.floor = utt.end
        self.partials.forget_hypotheses()
        if utt.voiced * 32 >= self.config.min_speech_ms and utt.end > self.suppress_until:
            self.closed.append(utt)
        elif self.partials.was_sent(utt.ms_id):
            self.closed.append(utt)  # still decoded: its partial must be replaced by a final
        utt.ready_at = self.clock()

    def _cut_early(self, utt: Utterance, cut: int) -> None:
        """Close the open utterance at ``cut`` (an early final); the turn goes on after it."""
        first_w = cut // WINDOW
        head = self.probs.before(first_w)[-max(utt.windows, 0) :]
        rest = self.probs.since(first_w)
        thr = self.config.endpoint.threshold
        self.closed.append(
            Utterance(
                start=utt.start,
                end=cut,
                voiced=sum(p >= thr for p in head),
                windows=len(head),
                forced=True,
                ready_at=self.clock(),
                run_onset=utt.run_onset,
            )
        )
        self.open = Utterance(
            start=cut, voiced=sum(p >= thr for p in rest), windows=len(rest), run_onset=utt.run_onset
        )
        self.floor = cut

    def finish(self) -> None:
        """End of call (or of the channel): the open utterance is closed as it stands."""
        if self.finished:
            return
        if self.open is not None and self.audio.end is not None:
            self._close(self.audio.end, forced=False)
        self.finished = True

    # -- jobs ----------------------------------------------------------------------------
    def wants_partial(self) -> bool:
        if self.in_flight is not None or self.closed or self.open is None:
            return False
        return self.partials.due(self.open, self.vad.next_window * WINDOW, self.suppress_until)

    def partial_staleness(self) -> float:
        """Sort key: the stream whose last partial is oldest goes first."""
        return self.partials.staleness

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
            job = self._job("final", utt, utt.start, utt.end, utt.ready_at)
        elif kind == "partial" and self.wants_partial():
            assert self.open is not None
            start, end = self.partials.audio_start(self.open), self.vad.next_window * WINDOW
            job = self._job("partial", self.open, start, end, self.clock())
            self.partials.handed_out(end, self.clock())
        else:
            return None
        self.in_flight = job
        return job

    def _job(self, kind: str, utt: Utterance, start: int, end: int, ready_at: float) -> Job:
        audio = self.audio.copy(start, end)
        speech_ratio = utt.voiced / max(utt.windows, 1)
        return Job(self, kind, start, end, audio, self.language, speech_ratio, ready_at, utt, self.domain)

    # -- results -------------------------------------------------------------------------
    def on_result(
        self, job: Job, text: str, language: str, words: list[Any], failed: bool = False
    ) -> list[SegmentOut]:
        """Turn a decode result into output segments.  ``words`` times are job-relative;
        the segments' words are copies placed on the call's time line."""
        if self.in_flight is job:
            self.in_flight = None
        offset = job.start / SR
        timed = [
            Word(round(offset + w.start, 3), round(offset + w.end, 3), w.text, float(w.probability))
            for w in words
        ]
        if job.kind == "final":
            utt = job.utterance
            assert utt is not None and utt.end is not None
            if self.closed and self.closed[0] is utt:
                self.closed.popleft()
            self.final_until = max(self.final_until, utt.end)
            had_partial = self.partials.settle(utt.ms_id)
            if failed or (not text and not had_partial) or utt.end <= self.suppress_until:
                return []
            return [self._segment(utt, True, text, language, timed, utt.end, len(text))]
        utt = job.utterance
        if failed or utt is None or utt is not self.open or not self.partials.active:
            return []  # the utterance was closed meanwhile: its final supersedes this
        upd = self.partials.update(utt, job.end, timed, self.probs)
        if upd.cut is not None:
            self._cut_early(utt, upd.cut)
            return []  # the confirmed sentence is now a closed utterance: its final comes next
        if not upd.text:
            return []
        return [self._segment(utt, False, upd.text, language, upd.words, job.end, upd.stable_len)]

    def _segment(
        self, utt: Utterance, final: bool, text: str, language: str, words, end: int, stable: int
    ) -> SegmentOut:
        rev = self.partials.revision if not final else self.partials.revision + 1
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
        return self.resume_candidates.latest(min(pending) if pending else None)

    def needed_from(self) -> int | None:
        """Earliest absolute sample a restart would need re-delivered (None: nothing)."""
        rp = self.resume_point()
        if rp is None:
            return None
        return max(min(rp.window * WINDOW, rp.floor), 0)

    def _trim(self) -> None:
        """Drop audio and VAD history nobody can need again (bounded memory)."""
        assert self.audio.start is not None
        pad = self.config.endpoint.speech_pad_ms * MS
        keep = self.vad.next_window * WINDOW - pad  # pre-roll of a future onset
        if self.open is not None:
            keep = min(keep, self.open.start)
        for u in self.closed:
            keep = min(keep, u.start)
        if self.in_flight is not None:
            keep = min(keep, self.in_flight.start)
        self.audio.drop_before(keep)
        # VAD probabilities: only the open utterance's tail is ever looked at (splits).
        keep_w = self.vad.next_window - int(self.config.max_utterance_s * SR) // WINDOW - 2
        self.probs.drop_before(keep_w)
        self.resume_candidates.drop_before(self.resume_point())

    def memory_bytes(self) -> int:
        return int(self.audio.nbytes + 8 * len(self.probs) + 1200 * len(self.resume_candidates))
