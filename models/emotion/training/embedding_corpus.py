"""Whisper-encoder embeddings of a labelled corpus, computed once and cached in ``var/``.

For every clip and condition (clean / telephone band) this stores, side by side:

- the 51 prosody features of each analysis window (``models.emotion.features``, the same
  windows and the same "enough voice" rule as :mod:`models.emotion.training.corpus`), so
  the embedding rows line up with the hand features and the two can be combined;
- the pooled encoder states (mean and std, ``embeddings.pool_states``) of the same window;
- one pooled embedding of the whole clip (the geometry of an ASR utterance).

The telephone copy is made at 8 kHz (``features.telephone``) and brought back to 16 kHz for
Whisper, as the live ASR path upsamples the 8 kHz call audio.  The cache key covers the
feature and embedding code and the clip list.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from models.emotion import features as F
from models.emotion.training import embeddings as E
from models.emotion.training.corpus import CorpusFeatures, condition_audio, load_audio
from models.emotion.training.dataset import Clip

log = logging.getLogger(__name__)

FEATURE_SETS = ("whisper", "whisper+prosody", "whisper-clip", "prosody")


@dataclass
class CorpusEmbeddings:
    hand: np.ndarray  # float32 [n_windows, 51]
    window: np.ndarray  # float32 [n_windows, 1024] mean | std of encoder states
    clip: np.ndarray  # int [n_windows] owner clip
    whole: np.ndarray  # float32 [n_clips_kept, 1024] one embedding per clip with a voiced window
    whole_clip: np.ndarray  # int [n_clips_kept]
    clips: list[Clip]
    condition: str

    def features(self, feature_set: str, pooling: str) -> CorpusFeatures:
        """The rows one feature set trains on, in the shape the cross-corpus protocol reads."""
        width = self.window.shape[1] // 2
        cols = slice(0, width if pooling == "mean" else 2 * width)
        if feature_set == "whisper":
            return CorpusFeatures(self.window[:, cols], self.clip, self.clips, self.condition)
        if feature_set == "whisper+prosody":
            return CorpusFeatures(np.hstack([self.hand, self.window[:, cols]]), self.clip, self.clips, self.condition)
        if feature_set == "whisper-clip":
            return CorpusFeatures(self.whole[:, cols], self.whole_clip, self.clips, self.condition)
        if feature_set == "prosody":
            return CorpusFeatures(self.hand, self.clip, self.clips, self.condition)
        raise ValueError(f"unknown feature set {feature_set!r} (expected one of {FEATURE_SETS})")


def _key(clips: list[Clip], condition: str) -> str:
    h = hashlib.sha256()
    for mod in (F, E):  # any edit to the feature or embedding code invalidates the cache
        h.update(Path(str(mod.__file__)).read_bytes())
    h.update(f"v{F.FEATURE_VERSION}|{condition}".encode())
    for c in clips:
        st = c.path.stat()
        h.update(f"{c.path}|{st.st_size}|{int(st.st_mtime)}".encode())
    return h.hexdigest()[:16]


def _to_16k(y: np.ndarray, sr: int) -> np.ndarray:
    return y.astype(np.float32) if sr == E.SAMPLE_RATE else soxr.resample(y, sr, E.SAMPLE_RATE, quality="HQ").astype(np.float32)


def clip_rows(encoder: E.WhisperEncoder, y: np.ndarray, sr: int) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray | None]:
    """(hand rows, window embeddings, whole-clip embedding or None) of one conditioned clip."""
    y16 = _to_16k(y, sr)
    hand, emb = [], []
    for a, b in F.window_bounds(y.size, sr):
        w = F.extract(y[a:b], sr)
        if w.vector is None:
            continue  # too little voice: no emotion claim (as the live engine and corpus.py)
        a16, b16 = round(a * E.SAMPLE_RATE / sr), round(b * E.SAMPLE_RATE / sr)
        hand.append(w.vector)
        emb.append(encoder.embed(y16[a16:b16], "meanstd"))
    whole = encoder.embed(y16, "meanstd") if hand else None
    return hand, emb, whole


def corpus_embeddings(clips: list[Clip], condition: str, cache_dir: Path | None, encoder: E.WhisperEncoder) -> CorpusEmbeddings:
    cache = cache_dir / f"whisper-{condition}-{_key(clips, condition)}.npz" if cache_dir else None
    if cache is not None and cache.is_file():
        d = np.load(cache)
        return CorpusEmbeddings(d["hand"], d["window"], d["clip"], d["whole"], d["whole_clip"], clips, condition)
    encoder.load()
    hand: list[np.ndarray] = []
    emb: list[np.ndarray] = []
    owner: list[int] = []
    whole: list[np.ndarray] = []
    whole_clip: list[int] = []
    for i, c in enumerate(clips):
        if i and i % 200 == 0:
            log.info("%s embeddings: %d/%d clips", condition, i, len(clips))
        y, sr = condition_audio(*load_audio(c.path), condition)
        h, e, w = clip_rows(encoder, y, sr)
        hand += h
        emb += e
        owner += [i] * len(h)
        if w is not None:
            whole.append(w)
            whole_clip.append(i)
    out = CorpusEmbeddings(
        np.asarray(hand, np.float32).reshape(len(hand), F.N_FEATURES),
        np.asarray(emb, np.float32).reshape(len(emb), -1),
        np.asarray(owner, np.int64),
        np.asarray(whole, np.float32).reshape(len(whole), -1),
        np.asarray(whole_clip, np.int64),
        clips,
        condition,
    )
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, hand=out.hand, window=out.window, clip=out.clip, whole=out.whole, whole_clip=out.whole_clip)
        tmp.replace(cache)
    return out
