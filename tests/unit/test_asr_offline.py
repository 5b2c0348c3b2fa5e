"""``callassist asr transcribe`` (pipeline.asr.offline): recordings through the live path, off the event loop.

FakeDecoder and the energy VAD stand in for the models; the file reader, the resampler and
the decoder record the thread they ran on, and none may be the event loop's.
"""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import soundfile as sf
from asr_fakes import SR, EnergyVad, FakeDecoder, silence, tone

import pipeline.asr.calls
from pipeline.asr.calls import LanguagePolicy
from pipeline.asr.endpointing import EndpointConfig
from pipeline.asr.offline import segment_json, transcribe_files
from pipeline.asr.stream import StreamConfig
from pipeline.asr.transcriber import TranscriberConfig
from streams.platform.audio_codec import StreamResampler

pytestmark = pytest.mark.unit

CONFIG = TranscriberConfig(
    stream=StreamConfig(
        endpoint=EndpointConfig(threshold=0.5, neg_threshold=0.2, min_silence_ms=500, speech_pad_ms=200),
        partials=False,
    ),
    language=LanguagePolicy(("en", "zh")),
)


def write_stereo_8k(path) -> None:
    """Agent speaks at 1-2 s, the customer at 3-4.5 s (an 8 kHz stereo call recording)."""
    agent = np.concatenate([silence(1.0), tone(1.0), silence(3.5)])
    customer = np.concatenate([silence(3.0), tone(1.5), silence(1.0)])
    sf.write(str(path), np.stack([agent[::2], customer[::2]], axis=1), 8000, subtype="PCM_16")


async def test_files_are_read_resampled_and_decoded_off_the_event_loop(tmp_path, monkeypatch):
    loop_thread = threading.current_thread()
    ran_on: dict[str, set[threading.Thread]] = {"read": set(), "resample": set()}
    real_read = sf.read

    def recording_read(*args, **kwargs):
        ran_on["read"].add(threading.current_thread())
        return real_read(*args, **kwargs)

    class RecordingResampler(StreamResampler):
        def push(self, samples, last=False):
            ran_on["resample"].add(threading.current_thread())
            return super().push(samples, last)

    monkeypatch.setattr(sf, "read", recording_read)
    monkeypatch.setattr(pipeline.asr.calls, "StreamResampler", RecordingResampler)
    write_stereo_8k(tmp_path / "call-1.wav")
    dec = FakeDecoder("hello there")
    done: list[str] = []

    out = await transcribe_files(
        [tmp_path / "call-1.wav"], dec, EnergyVad, CONFIG, "en", on_file_done=lambda c, _s: done.append(c)
    )

    segs = out["call-1"]
    assert done == ["call-1"] and [s.channel for s in segs] == ["agent", "customer"]
    assert segs[0].start == pytest.approx(0.8, abs=0.15) and segs[1].start == pytest.approx(2.8, abs=0.15)
    assert ran_on["read"] and ran_on["resample"] and dec.threads
    assert loop_thread not in ran_on["read"] | ran_on["resample"]
    assert threading.current_thread().name not in dec.threads


async def test_two_files_with_the_same_name_keep_their_call_ids_apart(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        sf.write(str(tmp_path / d / "call.wav"), np.concatenate([silence(0.5), tone(1.0), silence(1.0)]), SR)
    out = await transcribe_files(
        [tmp_path / "a" / "call.wav", tmp_path / "b" / "call.wav"], FakeDecoder(), EnergyVad, CONFIG, "en"
    )
    assert sorted(out) == ["call", "call-1"] and all(len(v) == 1 for v in out.values())
    line = json.loads(segment_json(out["call"][0], words=True))
    assert line["text"] == "hello there" and line["channel"] == "agent" and len(line["words"]) == 2
