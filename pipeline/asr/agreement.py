"""LocalAgreement-2 for partial transcripts (pure logic).

The open utterance is re-decoded as it grows (only when the worker has nothing better to
do, see the scheduler).  A word is *stable* once two consecutive hypotheses agree on it
and on everything before it (LocalAgreement-2, Macháček et al. 2023, "Turning Whisper
into Real-Time Transcription System").  Stable words never change in later partials of
the same utterance; the rest is shown as a tentative tail.

With ``lookback=2`` (the default) the new hypothesis is compared with each of the two
before it, and the longer agreement counts: still two hypotheses that agree, but one
word that flips in a single hypothesis ("crazy noises" / "craving noises" / "crazy
noises") no longer holds back everything after it under the prefix rule for two more
decodes (docs/asr.md, "Partial stability": measured in audio time with
``python -m bench.stability``).  ``lookback=1`` is the plain LocalAgreement-2.

The re-decoded buffer is trimmed at committed sentence ends: once a stable word ends a
sentence, later partial decodes start after it and the stable sentence is kept as text.
That keeps partial decodes short however long someone talks.

Words are the decoder's own :class:`models.whisper.decoding.Word`, placed on the call's
time line by the stream (``start``/``end`` in call time, text as Whisper writes it:
English words carry a leading space).

Final text does not come from here: each utterance is decoded once more, whole, when the
VAD closes it, which is deterministic (a restarted worker re-derives identical finals).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from models.whisper.decoding import Word

CARRY_MARGIN_S = 0.2  # a word carried over a forced split starts at least this long after the cut
SENTENCE_END = (".", "?", "!", "。", "？", "！", "…")


def word_key(text: str) -> str:
    """Compare words ignoring case, punctuation and spacing."""
    return "".join(
        c for c in unicodedata.normalize("NFKC", text).lower() if unicodedata.category(c)[0] in ("L", "N")
    )


def ends_sentence(text: str) -> bool:
    return text.rstrip().endswith(SENTENCE_END)


@dataclass
class LocalAgreement:
    buffer_start: float  # call time where the next partial decode must start
    max_buffer_s: float = 15.0
    stable_text_words: list[Word] = field(default_factory=list)  # trimmed out of the buffer
    committed: list[Word] = field(default_factory=list)  # stable, still inside the buffer
    previous: list[Word] = field(default_factory=list)  # last hypothesis after the committed words
    lookback: int = 2  # how many earlier hypotheses a new one is compared with (1: plain LA-2)
    older: list[list[Word]] = field(default_factory=list)  # the ones before `previous`, newest first

    def stable_words(self) -> list[Word]:
        return [*self.stable_text_words, *self.committed]

    def update(
        self, hypothesis: list[Word], decoded_until: float
    ) -> tuple[list[Word], list[Word]]:
        """Feed the hypothesis for ``[buffer_start, decoded_until]``; returns (stable, tentative)."""
        last_end = self.committed[-1].end if self.committed else self.buffer_start
        # Words the committed part already covers come back in every hypothesis: skip them
        # by time, then by text (a 1..5-word overlap with the committed tail).
        hyp = [w for w in hypothesis if w.end > last_end + 0.05 or not self.committed]
        if self.committed:
            hyp = [w for w in hyp if w.start >= last_end - 0.3]
            tail = [word_key(w.text) for w in self.committed[-5:]]
            keys = [word_key(w.text) for w in hyp]
            for n in range(min(5, len(tail), len(keys)), 0, -1):
                if tail[-n:] == keys[:n]:
                    hyp = hyp[n:]
                    break
        earlier = [self.previous, *self.older][: max(1, self.lookback)]
        agreements = [_agreed_prefix(h, hyp) for h in earlier]
        agreed = max(agreements)
        self.committed.extend(hyp[:agreed])
        # Keep the earlier hypotheses that agree with what was just committed, cut after it
        # (one that disagrees inside the committed words cannot be aligned any more).
        self.older = [h[agreed:] for h, n in zip(earlier, agreements, strict=True) if n >= agreed][
            : max(0, self.lookback - 1)
        ]
        self.previous = hyp[agreed:]
        self._trim(decoded_until)
        return self.stable_words(), list(self.previous)

    def carry_over(self, cut: float) -> LocalAgreement:
        """The agreement for the utterance that goes on after a forced split at call time ``cut``.

        Words already stable after the cut stay stable (a word shown as committed is never
        taken back while the speaker goes on); the hypotheses after the cut carry on too, so the
        next decode can confirm them.  Only words that start clearly after the cut are carried:
        word timings are often 0.1-0.3 s off, and a word the previous utterance's final may
        still hold must not be stable in this one (the next decodes settle it)."""

        def after(ws: list[Word]) -> list[Word]:
            return [w for w in ws if w.start >= cut + CARRY_MARGIN_S]

        nxt = LocalAgreement(cut, self.max_buffer_s, lookback=self.lookback)
        nxt.committed = after(self.stable_words())
        nxt.previous = after(self.previous)
        nxt.older = [after(h) for h in self.older]
        return nxt

    def _trim(self, decoded_until: float) -> None:
        cut = None
        for i, w in enumerate(self.committed):
            if ends_sentence(w.text):
                cut = i
        if cut is None and self.committed and decoded_until - self.buffer_start > self.max_buffer_s:
            cut = len(self.committed) - 1  # no sentence end for too long: trim at the last stable word
        if cut is None:
            return
        moved, self.committed = self.committed[: cut + 1], self.committed[cut + 1 :]
        self.stable_text_words.extend(moved)
        self.buffer_start = max(self.buffer_start, moved[-1].end)
        if not self.committed:
            # the tentative words were decoded with the old buffer start: start over after the cut
            self.previous = [w for w in self.previous if w.start >= self.buffer_start]
            self.older = [[w for w in h if w.start >= self.buffer_start] for h in self.older]


def _agreed_prefix(earlier: list[Word], hyp: list[Word]) -> int:
    """How many leading words of ``hyp`` the earlier hypothesis has too (by word key)."""
    n = 0
    for a, b in zip(earlier, hyp, strict=False):
        if word_key(a.text) != word_key(b.text) or not word_key(b.text):
            break
        n += 1
    return n
