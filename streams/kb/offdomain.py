"""Off-domain utterances: what a caller may say that no knowledge base entry answers.

They are the "wrong by definition" half of the relevance calibration
(:mod:`streams.kb.fit`).  The bundled set (``streams/data/offdomain.yaml``) is CLINC150's
out-of-scope training and validation utterances (CC BY 3.0, Larson et al. 2019; its test
split is not included: that is what ``callassist streams kb-eval`` measures on) plus
Mandarin small talk and off-topic requests written for this file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT = Path(__file__).resolve().parents[1] / "data" / "offdomain.yaml"


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[str, ...]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return tuple(str(x) for lang in ("en", "zh") for x in data.get(lang, []) if str(x).strip())


def load(path: Path | str = DEFAULT) -> tuple[str, ...]:
    return _load(str(path))
