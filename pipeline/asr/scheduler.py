"""Which decode jobs run next (pure policy, no I/O).

- Finals first, oldest first, from every call: they are what QA, compliance and the
  agent's transcript wait for.  Finals of calls in the same language share one model call
  (a batch), up to ``batch_size``: on GPU one batched encoder pass costs about as much as
  one utterance; on CPU a batch only delays its first result, so the default there is 1.
- Partials only when no final is waiting (design.md: on CPU, re-decoding every open
  utterance on a timer fell behind even one live call).  The stalest open utterance first.
- Utterances of calls whose language is not known yet are decoded one per model call
  (the engine detects the language per request).
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.asr.stream import ChannelStream, Job


def pick_jobs(
    streams: Iterable[ChannelStream], batch_size: int, partial_batch_size: int, partials: bool = True
) -> list[Job]:
    streams = list(streams)
    finals = sorted((s for s in streams if s.has_final_job()), key=lambda s: s.final_ready_at())
    if finals:
        return _take(finals, "final", batch_size)
    if not partials or partial_batch_size <= 0:
        return []
    waiting = sorted((s for s in streams if s.wants_partial()), key=lambda s: s.partial_staleness())
    return _take(waiting, "partial", partial_batch_size)


def _take(candidates: list[ChannelStream], kind: str, limit: int) -> list[Job]:
    if not candidates:
        return []
    first = candidates[0]
    if first.language is None:
        chosen = [first]
    else:
        chosen = [s for s in candidates if s.language == first.language][: max(limit, 1)]
    jobs = []
    for s in chosen:
        job = s.next_job(kind)
        if job is not None:
            jobs.append(job)
    return jobs
