"""``callassist asr transcribe FILE...``: the live streaming path, run on recordings.

Each file is one call (call id = file name without extension).  A mono file is one
channel (``--mono-channel``, default ``agent``); a stereo file is agent (left) and customer
(right), the usual call-recording layout.  The audio is cut into 200 ms frames and fed
through exactly the code the Kafka worker uses (:class:`Transcriber`: resampler, VAD,
endpointing, utterance decoding, filters), as fast as the model allows.

Nothing blocking runs on the event loop: files are read and decoded in a worker thread
(``asyncio.to_thread``), resampling and VAD run in the transcriber's state thread and the
model in its decode thread.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.asr.stream import SegmentOut
from pipeline.asr.transcriber import Transcriber, TranscriberConfig

FRAME_S = 0.2
STEREO_CHANNELS = ("agent", "customer")


class AudioFileError(ValueError):
    """A file that cannot be transcribed (missing, unreadable, too many channels)."""


@dataclass
class AudioFile:
    call_id: str
    rate: int
    channels: dict[str, np.ndarray]  # channel name -> float32 samples

    @property
    def duration(self) -> float:
        return max((len(a) for a in self.channels.values()), default=0) / self.rate


def read_audio(path: Path, mono_channel: str = "agent") -> AudioFile:
    import soundfile as sf

    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises its own error types (LibsndfileError, RuntimeError)
        raise AudioFileError(f"{path}: cannot read audio ({exc})") from exc
    if data.shape[1] == 1:
        channels = {mono_channel: data[:, 0]}
    elif data.shape[1] == 2:
        channels = {STEREO_CHANNELS[0]: data[:, 0], STEREO_CHANNELS[1]: data[:, 1]}
    else:
        raise AudioFileError(f"{path}: {data.shape[1]} channels; expected mono or stereo (agent/customer)")
    if not 8000 <= rate <= 48000:
        raise AudioFileError(f"{path}: unsupported sample rate {rate}")
    if data.shape[0] == 0:
        raise AudioFileError(f"{path}: no audio")
    return AudioFile(call_id=path.stem, rate=int(rate), channels=channels)


def frames(audio: AudioFile, frame_s: float = FRAME_S) -> Iterable[tuple[float, str, np.ndarray]]:
    """(start time, channel, samples) in time order, channels interleaved like a live call."""
    n = max(1, int(round(frame_s * audio.rate)))
    total = max(len(a) for a in audio.channels.values())
    for i in range(0, total, n):
        for ch, a in audio.channels.items():
            if i < len(a):
                yield i / audio.rate, ch, a[i : i + n]


async def feed_file(
    tr: Transcriber,
    audio: AudioFile,
    language: str | None = None,
    realtime: bool = False,
    max_pending: int = 4,
    on_frame: Callable[[float, float], None] | None = None,
    queue: str = "",
) -> None:
    """Feed one file as a call; with ``realtime`` the frames are paced at the wall clock."""
    await tr.open_call(audio.call_id, language, queue=queue)
    t0 = time.monotonic()
    for start, ch, samples in frames(audio):
        if realtime:
            due = t0 + start + len(samples) / audio.rate  # the frame exists once its last sample was spoken
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if on_frame is not None:
                on_frame(start + len(samples) / audio.rate, time.monotonic())
        else:
            await tr.wait_pending_below(max_pending)  # backpressure: keep memory flat
        await tr.audio(audio.call_id, ch, samples, audio.rate, start)
    await tr.end_call(audio.call_id)


async def transcribe_files(
    paths: list[Path],
    decoder,
    vad_factory,
    config: TranscriberConfig,
    language: str | None = None,
    mono_channel: str = "agent",
    on_file_done: Callable[[str, list[SegmentOut]], None] | None = None,
    queue: str = "",
) -> dict[str, list[SegmentOut]]:
    """Transcribe files one after another; returns finals per call id, in time order."""
    out: dict[str, list[SegmentOut]] = {}

    async def collect(segments: list[SegmentOut]) -> None:
        for seg in segments:
            if seg.is_final and seg.text:
                out.setdefault(seg.call_id, []).append(seg)

    tr = Transcriber(decoder, vad_factory, config, collect)
    await tr.start()
    try:
        for path in paths:
            audio = await asyncio.to_thread(read_audio, path, mono_channel)  # file read + resample: off the loop
            if audio.call_id in out:  # two files with the same name: keep call ids unique
                audio.call_id = f"{audio.call_id}-{len(out)}"
            out[audio.call_id] = []
            await feed_file(tr, audio, language, queue=queue)
            await tr.drain()
            out[audio.call_id].sort(key=lambda s: (s.start, s.channel))
            if on_file_done is not None:
                on_file_done(audio.call_id, out[audio.call_id])
    finally:
        await tr.stop()
    return out


def segment_json(seg: SegmentOut, words: bool = False) -> str:
    d: dict = {
        "call_id": seg.call_id,
        "segment_id": seg.segment_id,
        "channel": seg.channel,
        "start": seg.start,
        "end": seg.end,
        "text": seg.text,
        "language": seg.language,
    }
    if words:
        d["words"] = [
            {"start": w.start, "end": w.end, "text": w.text.strip(), "p": round(w.probability, 3)}
            for w in seg.words
        ]
    return json.dumps(d, ensure_ascii=False)
