"""Fitting a knowledge base's relevance calibration from its own questions.

Held-out trigger questions (a share of each entry's, never part of the index they are
ranked against) are the positives/negatives of "top-1 is right"; off-domain utterances
(:mod:`streams.kb.offdomain`) are wrong by definition.  Deterministic for a seed, so the
same KB content always yields the same scores.

The index to rank with comes in as ``ranker_for`` (the index module passes its own
uncalibrated ranking), so this module does not import the index that imports it.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Callable

from streams.kb import calibration, offdomain
from streams.kb.model import Entry, KnowledgeBase
from streams.matching.bilingual import LangList

log = logging.getLogger(__name__)

HOLDOUT = 0.2
MAX_HELDOUT = 400  # bounds the fitting time of a large KB (each is one query)
MAX_NEGATIVES = 300

#: ranks an utterance: (entry indices best first, calibration features of the ranking)
RankFn = Callable[[str], tuple[list[int], list[float]]]


def _keep_only(e: Entry, kept: set[str]) -> Entry:
    q = LangList.model_construct(zh=[x for x in e.questions.zh if x in kept],
                                 en=[x for x in e.questions.en if x in kept])
    return e.model_copy(update={"questions": q})


def fit_index_calibration(kb: KnowledgeBase, ranker_for: Callable[[KnowledgeBase], RankFn],
                          negatives: list[str] | None = None, *, seed: int = 0,
                          offdomain_prior: float | None = None,
                          holdout: float = HOLDOUT, max_heldout: int = MAX_HELDOUT,
                          max_negatives: int = MAX_NEGATIVES) -> calibration.Calibrator | None:
    """A calibrator for ``kb``, or None when the KB is too small to hold anything out.

    ``ranker_for(sub_kb)``: the uncalibrated ranking of an index built on ``sub_kb``."""
    by_entry = {str(i): e.questions.all() for i, e in enumerate(kb.entries)}
    kept, held = calibration.split_questions(by_entry, holdout, seed, max_heldout)
    if not held:
        log.warning("KB %s: no entry has 2+ questions; relevance scores stay uncalibrated", kb.version)
        return None
    entries = tuple(_keep_only(e, set(kept[str(i)])) for i, e in enumerate(kb.entries))
    sub_rank = ranker_for(dataclasses.replace(kb, entries=entries))
    negs = list(offdomain.load() if negatives is None else negatives)
    if len(negs) > max_negatives:
        negs = random.Random(seed).sample(negs, max_negatives)
    intents = [e.intent for e in kb.entries]

    def rank(text: str) -> tuple[list[str], list[float]]:
        ids, feats = sub_rank(text)
        return [str(i) for i in ids], feats

    feats, labels = calibration.examples(rank, held, negs, lambda a, b: intents[int(a)] == intents[int(b)])
    prior = kb.settings.offdomain_prior if offdomain_prior is None else offdomain_prior
    weights = calibration.prior_weights(len(held), len(negs), prior)
    try:
        return calibration.fit(feats, labels, {"heldout_questions": len(held), "negatives": len(negs),
                                               "heldout_top1_right": sum(labels)}, weights)
    except ValueError as exc:
        log.warning("KB %s: %s; relevance scores stay uncalibrated", kb.version, exc)
        return None
