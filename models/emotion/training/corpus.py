"""Window features of a labelled corpus, computed once and cached in ``var/`` (training/eval).

The cache key covers the feature version, the condition (clean / telephone) and the clip
list, so a changed feature definition or data set can never reuse stale numbers.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from models.emotion import features as F
from models.emotion.training.dataset import Clip

log = logging.getLogger(__name__)

CONDITIONS = ("clean", "telephone")


class AudioError(ValueError):
    """An audio file could not be read (missing, not audio, empty)."""


def load_audio(path: Path) -> tuple[np.ndarray, int]:
    """Decode an audio file to mono float32 (multi-channel files are averaged)."""
    try:
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: cannot read audio ({exc})") from exc
    if y.shape[0] == 0:
        raise AudioError(f"{path}: no audio samples")
    return y.mean(axis=1), int(sr)


def condition_audio(y: np.ndarray, sr: int, condition: str) -> tuple[np.ndarray, int]:
    if condition == "clean":
        return y, sr
    if condition == "telephone":
        return F.telephone(y, sr)
    raise ValueError(f"unknown condition {condition!r} (expected one of {CONDITIONS})")


def clip_windows(y: np.ndarray, sr: int) -> list[F.WindowFeatures]:
    """Features of every analysis window of one clip (windows without enough voice included)."""
    return [F.extract(y[a:b], sr) for a, b in F.window_bounds(y.size, sr)]


@dataclass
class CorpusFeatures:
    """Voiced windows of a corpus in one condition: X[i] belongs to clips[clip[i]]."""

    X: np.ndarray  # float32 [n_windows, N_FEATURES], raw (not normalised)
    clip: np.ndarray  # int [n_windows]
    clips: list[Clip]
    condition: str


def _key(clips: list[Clip], condition: str) -> str:
    h = hashlib.sha256()
    # the feature code itself is part of the key: any edit to it invalidates the cache
    h.update(Path(F.__file__).read_bytes())
    h.update(f"v{F.FEATURE_VERSION}|{condition}".encode())
    for c in clips:
        st = c.path.stat()
        h.update(f"{c.path}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def corpus_features(clips: list[Clip], condition: str, cache_dir: Path | None) -> CorpusFeatures:
    cache = cache_dir / f"emotion-{condition}-{_key(clips, condition)}.npz" if cache_dir else None
    if cache is not None and cache.is_file():
        data = np.load(cache)
        return CorpusFeatures(data["X"], data["clip"], clips, condition)
    rows: list[np.ndarray] = []
    owner: list[int] = []
    for i, c in enumerate(clips):
        if i and i % 200 == 0:
            log.info("%s features: %d/%d clips", condition, i, len(clips))
        y, sr = condition_audio(*load_audio(c.path), condition)
        for w in clip_windows(y, sr):
            if w.vector is not None:
                rows.append(w.vector)
                owner.append(i)
    X = np.stack(rows) if rows else np.zeros((0, F.N_FEATURES), np.float32)
    out = CorpusFeatures(X.astype(np.float32), np.asarray(owner, dtype=np.int64), clips, condition)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, X=out.X, clip=out.clip)
        tmp.replace(cache)
    return out
