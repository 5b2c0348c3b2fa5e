"""Partial transcripts of the open utterance: when to decode them, LocalAgreement-2, early finals.

Mixed into :class:`pipeline.asr.stream.ChannelStream` (pure logic, split out to keep that
module small).  Partials are decoded only when the scheduler is idle; a sentence that
LocalAgreement-2 confirmed is cut off as its own utterance and finalised before the VAD
closes the turn (early finals); the turn continues after it under a new segment id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.asr.agreement import LocalAgreement, TimedWord
from pipeline.asr.types import SR, WINDOW, Job, SegmentOut, Utterance

if TYPE_CHECKING:
    from collections import deque
    from collections.abc import Callable

    from pipeline.asr.types import StreamConfig, Vad


class PartialsMixin:
    # provided by ChannelStream
    config: StreamConfig
    vad: Vad
    open: Utterance | None
    closed: deque[Utterance]
    in_flight: Job | None
    final_until: int
    suppress_until: int
    _agreement: LocalAgreement | None
    _partial_rev: int
    _partial_emitted: set[int]
    _last_partial_end: int
    _last_partial_clock: float
    _probs: deque[float]
    _probs_start: int
    floor: int
    clock: Callable[[], float]

    def _segment(self, utt, final, text, language, words, end, stable) -> SegmentOut:  # pragma: no cover
        raise NotImplementedError

    def wants_partial(self) -> bool:
        cfg = self.config
        if not cfg.partials or self.in_flight is not None or self.closed or self.open is None:
            return False
        end = self.vad.next_window * WINDOW
        if end <= self.suppress_until or end - self.open.start < cfg.partial_min_s * SR:
            return False
        return end - max(self._last_partial_end, self.open.start) >= cfg.partial_interval_s * SR

    def partial_staleness(self) -> float:
        """Sort key: the stream whose last partial is oldest goes first."""
        return self._last_partial_clock

    def _partial_result(
        self, job: Job, timed: list[TimedWord], language: str, failed: bool
    ) -> list[SegmentOut]:
        utt = job.utterance
        if failed or utt is None or utt is not self.open or self._agreement is None:
            return []  # the utterance was closed meanwhile: its final supersedes this
        stable, tentative = self._agreement.update(timed, job.end / SR)
        if (
            self.config.early_finals
            and self._agreement.stable_text_words
            and self._cut_sentence(utt, job.end)
        ):
            return []  # the confirmed sentence is now a closed utterance: its final comes next
        stable_text = "".join(w.text for w in stable).strip()
        full = "".join(w.text for w in [*stable, *tentative]).strip()
        if not full:
            return []
        self._partial_rev += 1
        self._partial_emitted.add(utt.ms_id)
        return [self._segment(utt, False, full, language, [*stable, *tentative], job.end, len(stable_text))]

    def _cut_sentence(self, utt: Utterance, decoded_end: int) -> bool:
        """Close the utterance at the sentence LocalAgreement confirmed; the turn goes on after it.

        The confirmed sentence is decoded once more, whole, like any utterance (measured on
        the sample call: using the partial hypotheses' words as the final text instead cost
        6 points of WER).  LocalAgreement decides *where* and *when* to cut, the buffer is
        trimmed there, and the rest of the turn continues under a new segment id.  On a
        restart these cuts are not re-derived; the checkpoint's ``suppress_until`` makes the
        replay continue exactly after the last final (see ``ChannelStream._on_window``).
        """
        la = self._agreement
        assert la is not None
        sentence = la.stable_text_words
        after = [*la.committed, *la.previous]
        end = sentence[-1].end
        nxt = after[0].start if after else end + 0.3
        # Word timings from cross-attention are often 0.1-0.3 s off: cut at the least
        # speech-like VAD window around the sentence end, where the pause really is.
        lo = max(int((end - 0.3) * SR) // WINDOW, self._probs_start)
        hi = min(int((max(nxt, end) + 0.1) * SR) // WINDOW, self._probs_start + len(self._probs) - 1)
        if hi >= lo:
            near = {j: self._probs[j - self._probs_start] for j in range(lo, hi + 1)}
            quiet = min(near.values()) + 0.05  # near-minimum windows: take the one nearest the word end
            window = min((j for j, p in near.items() if p <= quiet), key=lambda j: abs(j * WINDOW / SR - end))
            cut_t = (window * WINDOW + WINDOW // 2) / SR
        else:
            cut_t = (end + min(nxt, end + 0.2)) / 2
        cut = min(int(round(cut_t * SR)), decoded_end)
        if cut - utt.start < self.config.early_final_min_s * SR:
            return False
        first_w = cut // WINDOW
        probs = list(self._probs)
        head = probs[: max(first_w - self._probs_start, 0)][-max(utt.windows, 0) :]
        rest = probs[max(first_w - self._probs_start, 0) :]
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
        self._agreement = None
        self._partial_rev = 0
        return True
