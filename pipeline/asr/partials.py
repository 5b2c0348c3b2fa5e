"""Partial transcripts of a channel's open utterance: when to decode, LocalAgreement-2, early-final cuts.

:class:`PartialDecoder` is owned by :class:`pipeline.asr.stream.ChannelStream` (pure
logic).  The stream tells it about the open utterance (``restart`` at an onset,
``forget_hypotheses`` when the utterance closes or splits), asks it whether a partial is
``due`` and where its audio starts, and hands it each partial decode (``update``).  The
decoder answers with the partial text or, with early finals on, with the sample where the
sentence LocalAgreement-2 confirmed ends: the stream then closes that sentence as its own
utterance (decoded once more, whole, as a final) and the turn goes on under a new id.

Partials are decoded only when the scheduler is idle; the revision counter and the set of
utterances with a partial on the wire live here, because finals need them (a final's
revision follows its partials'; an utterance whose partial was sent must get a final even
if it turns out too short).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.whisper.decoding import Word
from pipeline.asr.agreement import LocalAgreement
from pipeline.asr.buffers import WindowProbs
from pipeline.asr.types import SR, WINDOW, StreamConfig, Utterance


@dataclass
class PartialUpdate:
    """What one partial decode produced: a cut (early final), a text to send, or neither."""

    cut: int | None = None  # sample where the confirmed sentence ends: close it there
    text: str = ""
    words: list[Word] = field(default_factory=list)
    stable_len: int = 0  # length of the leading text LocalAgreement has confirmed


class PartialDecoder:
    def __init__(self, config: StreamConfig) -> None:
        self.config = config
        self.revision = 0  # partials sent for the current utterance (a final gets revision + 1)
        self._agreement: LocalAgreement | None = None
        self._emitted: set[int] = set()  # utterance ids with a partial on the wire
        self._last_end = 0  # end sample of the last partial decode
        self._last_clock = 0.0  # clock() when it was handed out

    # -- the open utterance --------------------------------------------------------------
    def restart(self) -> None:
        """A new utterance opened (onset or early cut): hypotheses and revisions start over."""
        self._agreement = None
        self.revision = 0

    def forget_hypotheses(self) -> None:
        """The utterance was closed or split: its final supersedes the hypotheses.  The
        revision stays: the final of the closed utterance is numbered after it."""
        self._agreement = None

    def carry_over(self, cut: int) -> LocalAgreement | None:
        """Before a forced split at sample ``cut``: the agreement state of what follows the cut
        (hand it to :meth:`resume_with` once the next utterance is open)."""
        return self._agreement.carry_over(cut / SR) if self._agreement is not None else None

    def resume_with(self, agreement: LocalAgreement | None) -> None:
        """The utterance after a forced split keeps the words already stable after the cut."""
        self._agreement = agreement

    @property
    def active(self) -> bool:
        """A partial decode of the current open utterance is under way or has been applied."""
        return self._agreement is not None

    # -- scheduling --------------------------------------------------------------------
    def due(self, utt: Utterance, end: int, suppress_until: int) -> bool:
        """Whether the open utterance, decoded up to sample ``end``, is worth a partial now."""
        cfg = self.config
        if not cfg.partials:
            return False
        if end <= suppress_until or end - utt.start < cfg.partial_min_s * SR:
            return False
        return end - max(self._last_end, utt.start) >= cfg.partial_interval_s * SR

    def allow_now(self) -> None:
        """Make the next partial due at once (whatever audio arrived since the last)."""
        self._last_end = 0

    @property
    def staleness(self) -> float:
        """Sort key: the stream whose last partial is oldest goes first."""
        return self._last_clock

    def audio_start(self, utt: Utterance) -> int:
        """First sample of the next partial decode (LocalAgreement trims confirmed sentences)."""
        if self._agreement is None:
            cfg = self.config
            self._agreement = LocalAgreement(utt.start / SR, cfg.partial_max_buffer_s, lookback=cfg.partial_lookback)
        return max(int(self._agreement.buffer_start * SR), utt.start)

    def handed_out(self, end: int, now: float) -> None:
        self._last_end = end
        self._last_clock = now

    # -- partials on the wire ------------------------------------------------------------
    def was_sent(self, ms_id: int) -> bool:
        return ms_id in self._emitted

    def settle(self, ms_id: int) -> bool:
        """The utterance's final is out: forget it; returns whether it had a partial."""
        had = ms_id in self._emitted
        self._emitted.discard(ms_id)
        return had

    # -- results -------------------------------------------------------------------------
    def update(
        self, utt: Utterance, decoded_end: int, timed: list[Word], probs: WindowProbs
    ) -> PartialUpdate:
        """Apply a partial decode of the open utterance ``utt`` (must be :attr:`active`)."""
        la = self._agreement
        assert la is not None
        stable, tentative = la.update(timed, decoded_end / SR)
        if self.config.early_finals and la.stable_text_words:
            cut = self._sentence_cut(utt, decoded_end, probs)
            if cut is not None:
                self.restart()
                return PartialUpdate(cut=cut)  # the sentence becomes a closed utterance: its final comes next
        stable_text = "".join(w.text for w in stable).strip()
        full = "".join(w.text for w in [*stable, *tentative]).strip()
        if not full:
            return PartialUpdate()
        self.revision += 1
        self._emitted.add(utt.ms_id)
        return PartialUpdate(text=full, words=[*stable, *tentative], stable_len=len(stable_text))

    def _sentence_cut(self, utt: Utterance, decoded_end: int, probs: WindowProbs) -> int | None:
        """Where to close the utterance at the sentence LocalAgreement confirmed (None: too short).

        The confirmed sentence is decoded once more, whole, like any utterance (measured on
        the sample call: using the partial hypotheses' words as the final text instead cost
        6 points of WER).  LocalAgreement decides *where* and *when* to cut.  On a restart
        these cuts are not re-derived; the checkpoint's ``suppress_until`` makes the replay
        continue exactly after the last final (see ``ChannelStream._on_window``).
        """
        la = self._agreement
        assert la is not None
        sentence = la.stable_text_words
        after = [*la.committed, *la.previous]
        end = sentence[-1].end
        nxt = after[0].start if after else end + 0.3
        # Word timings from cross-attention are often 0.1-0.3 s off: cut at the least
        # speech-like VAD window around the sentence end, where the pause really is.
        lo = max(int((end - 0.3) * SR) // WINDOW, probs.start)
        hi = min(int((max(nxt, end) + 0.1) * SR) // WINDOW, probs.last)
        if hi >= lo:
            near = {j: probs[j] for j in range(lo, hi + 1)}
            quiet = min(near.values()) + 0.05  # near-minimum windows: take the one nearest the word end
            window = min((j for j, p in near.items() if p <= quiet), key=lambda j: abs(j * WINDOW / SR - end))
            cut_t = (window * WINDOW + WINDOW // 2) / SR
        else:
            cut_t = (end + min(nxt, end + 0.2)) / 2
        cut = min(int(round(cut_t * SR)), decoded_end)
        if cut - utt.start < self.config.early_final_min_s * SR:
            return None
        return cut
