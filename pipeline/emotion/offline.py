"""Offline emotion commands on the live code path.

``score``: a recording is cut into the same AudioFrames ingest would produce and run
through :class:`EmotionEngine` (windowing, baseline, smoothing, hysteresis, hints), so its
JSON lines are exactly what ``calls.emotion`` would carry for that call.

``evaluate``: a labelled folder (RAVDESS names or labels.csv) is scored clip by clip with
the model and a per-speaker baseline (see models.emotion.training.evaluation), clean or degraded to
telephone band, and reported as AUC/UAR of voice arousal and of agitated-vs-not.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

from models.emotion.model import SIGNALS, EmotionModel
from models.emotion.training.corpus import AudioError, condition_audio, corpus_features
from models.emotion.training.crosscorpus import binary_report, target_of
from models.emotion.training.dataset import discover
from models.emotion.training.evaluation import speaker_normalised
from pipeline.emotion.engine import EmotionEngine, EngineConfig
from streams.contract.audio import AudioFrame
from streams.contract.records import EmotionReading
from streams.contract.vocab import Channel
from streams.platform.audio_codec import float_to_pcm16_bytes

FRAME_S = 0.2  # the ingest default frame duration
STEREO_CHANNELS = ("agent", "customer")  # left = agent, right = customer (as `ingest replay`)


def read_channels(path: Path, mono_channel: str) -> tuple[dict[str, np.ndarray], int]:
    """A file's channels by name: mono -> ``mono_channel``; stereo -> agent (L), customer (R)."""
    import soundfile as sf

    try:
        y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{path}: cannot read audio ({exc})") from exc
    if y.shape[0] == 0:
        raise AudioError(f"{path}: no audio samples")
    if y.shape[1] == 1:
        return {mono_channel: y[:, 0]}, int(sr)
    if y.shape[1] == 2:
        return {name: y[:, i] for i, name in enumerate(STEREO_CHANNELS)}, int(sr)
    raise AudioError(f"{path}: {y.shape[1]} channels; expected mono or stereo (agent, customer)")


def frames_of(call_id: str, channel: str, y: np.ndarray, sr: int) -> Iterator[AudioFrame]:
    n = int(round(FRAME_S * sr))
    for seq, i in enumerate(range(0, y.size, n)):
        yield AudioFrame(call_id, cast(Channel, channel), seq, i / sr, "pcm16le", sr, float_to_pcm16_bytes(y[i : i + n]))


def score_file(
    model: EmotionModel, path: Path, mono_channel: str = "customer", telephone: bool = False
) -> list[EmotionReading]:
    channels, sr = read_channels(path, mono_channel)
    engine = EmotionEngine(model, EngineConfig(), clock=lambda: 0.0)
    call_id = path.stem
    frames: list[AudioFrame] = []
    for name, y in channels.items():
        rate = sr
        if telephone:
            y, rate = condition_audio(y, sr, "telephone")
        frames += frames_of(call_id, name, y, rate)
    # both channels interleaved in call time, as they arrive live (the agent's conversation
    # hints look at what the customer channel did at the same time)
    out = engine.process(sorted(frames, key=lambda f: (f.start, f.channel)))
    out += engine.flush_call(call_id)
    return sorted(out, key=lambda r: (r.start, r.channel))


def evaluate_dir(
    model: EmotionModel, root: Path, telephone: bool, cache: Path | None, seed: int = 0, opening: str = "calm"
) -> dict[str, Any]:
    """Arousal and agitated-vs-not scores of a labelled folder (clip = mean of its windows)."""
    clips = discover(root)
    cond = "telephone" if telephone else "clean"
    cf = corpus_features(clips, cond, cache)
    b = model.spec["baseline"]
    pop_mean, pop_std = np.asarray(b["pop_mean"]), np.asarray(b["pop_std"])
    z = speaker_normalised(cf, pop_mean, pop_std, b["prior_weight"], b["max_windows"], seed, opening)
    if not cf.clip.size:
        raise AudioError(f"{root}: none of the {len(clips)} clips has enough voiced speech to score")
    p = model.predict(z)
    owners = np.unique(cf.clip)
    clip_p = np.stack([p[cf.clip == i].mean(axis=0) for i in owners])
    result: dict[str, Any] = {}
    for k, sig in enumerate(SIGNALS):
        truth = [target_of(clips[i].label, sig) for i in owners]
        keep = np.array([t is not None for t in truth])
        if keep.sum() == 0 or len({t for t in truth if t is not None}) < 2:
            result[sig] = None  # the folder has no clips on one side of this signal
            continue
        result[sig] = binary_report(np.array([t for t in truth if t is not None]), clip_p[keep, k], model.threshold(sig))
    result.update(
        condition=cond,
        opening=opening,
        clips=len(clips),
        clips_scored=int(owners.size),
        speakers=len({c.speaker for c in clips}),
    )
    return result
