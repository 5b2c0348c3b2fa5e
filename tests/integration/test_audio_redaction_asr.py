"""Audio redaction checked by ear, i.e. by the real Whisper model.

Real telephone speech (the 8 kHz IVR recording in shared/data/speech) is cut into a caller
reading a mobile number digit by digit (the IVR's own spoken "one", "three", "four", …).
Whisper transcribes it (word timings), :func:`pii_audio_spans` finds where the number was
spoken, the recording store + playback build the file QA hears, and Whisper transcribes that:
the words around the number must still be there, the digits must be gone.

Mandarin: a real customer-service sentence of ../shared/data/speech/zh_magicdata (an agent
reading back a QQ mail address digit by digit, 幺零九零二七九零九幺 at QQ 点 com) goes the same
way: Whisper's digits and "at QQ.com" are redacted as [EMAIL], the span becomes a tone, and
Whisper on the played file hears the words around it and neither the digits nor the address.
"""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from assist_ui.audio_redaction import pii_audio_spans
from assist_ui.playback import PlaybackAudio
from assist_ui.redact import redact
from pipeline.asr.loading import load_models
from pipeline.asr.offline import transcribe_files
from pipeline.asr.settings import AsrSettings
from streams.platform.recording_spool import SpooledFrame
from streams.platform.recording_store import RecordingStore

pytestmark = pytest.mark.integration
IVR = "speech/en_8k_ivr_basic-pbx-ivr-main.wav"
# where the IVR says each digit (seconds, from Whisper base word timings on this file;
# the start skips the tail of the preceding "press", 0.14 s)
DIGITS = {"1": (13.12, 13.4), "2": (15.92, 16.18), "3": (19.27, 19.57), "4": (21.97, 22.25), "0": (24.43, 24.73)}
NUMBER = "13412340123"  # a mainland mobile layout: redacted as [PHONE] by structure
_DIGIT_TEXT = re.compile(r"\d|\b(zero|oh|one|two|three|four|five|six|seven|eight|nine)\b", re.I)


def _transcribe(engine_parts: tuple, path: Path, language: str = "en") -> list:
    settings, engine, vad = engine_parts
    cfg = settings.transcriber_config(engine.device, partials=False)
    return asyncio.run(transcribe_files([path], engine, vad, cfg, language))[path.stem]


def test_spoken_phone_number_is_silenced_in_what_qa_plays(shared_data: Path, tmp_path: Path) -> None:
    y, sr = sf.read(shared_data / IVR, dtype="int16")

    def cut(a: float, b: float) -> np.ndarray:
        return y[int(a * sr) : int(b * sr)]

    def pause(s: float) -> np.ndarray:
        return np.zeros(int(s * sr), np.int16)

    parts = [cut(0.0, 0.98), pause(0.4), cut(6.52, 8.34), pause(0.4)]
    for d in NUMBER:
        parts += [cut(*DIGITS[d]), pause(0.12)]
    parts += [pause(0.5), cut(13.84, 15.3), pause(1.0)]
    call = np.concatenate(parts)
    path = tmp_path / "call.wav"
    sf.write(path, call, sr)

    engine_parts = (s := AsrSettings(data_dir=tmp_path / "var"), *load_models(s))
    segs = _transcribe(engine_parts, path)
    heard = " ".join(x.text for x in segs)
    assert len(_DIGIT_TEXT.findall(heard)) >= 7 and "[PHONE]" in redact(heard), heard  # the number is heard

    transcript = [{"channel": "customer", "start": x.start, "end": x.end, "text": x.text,
                   "words": [{"start": w.start, "end": w.end, "text": w.text} for w in x.words]} for x in segs]
    spans = pii_audio_spans(transcript)
    assert [sp["kind"] for sp in spans] == ["phone"]

    store = RecordingStore(tmp_path / "recordings")
    store.write_call("c-red", {"customer": {0: SpooledFrame(0, 0.0, sr, "pcm16le", call.tobytes())}})
    flac = asyncio.run(PlaybackAudio(store).flac("c-red", [("customer", sp["start"], sp["end"]) for sp in spans]))
    assert flac is not None
    played, rate = sf.read(io.BytesIO(flac), dtype="int16")
    out = tmp_path / "played.wav"
    sf.write(out, played[:, 1], rate)

    after = " ".join(x.text for x in _transcribe(engine_parts, out))
    assert not _DIGIT_TEXT.search(after), after  # the digits are gone
    assert "calling" in after.lower() and "customer advocate" in after.lower(), after  # the rest is not


ZH_EMAIL = "speech/zh_magicdata/general_400017.flac"  # 好的，我跟您核对一下，是幺零九零二七九零九幺at QQ点com是吗？
_DIGIT_RUN = re.compile(r"[0-9０-９]{3,}|[零〇幺一二三四五六七八九]{3,}")


def test_spoken_mandarin_mail_address_is_a_tone_in_what_qa_plays(shared_data: Path, tmp_path: Path) -> None:
    y, sr = sf.read(shared_data / ZH_EMAIL, dtype="int16")
    call = y if y.ndim == 1 else y[:, 0]
    path = tmp_path / "zh_call.wav"
    sf.write(path, call, sr)

    engine_parts = (s := AsrSettings(data_dir=tmp_path / "var"), *load_models(s))
    segs = _transcribe(engine_parts, path, "zh")
    heard = "".join(x.text for x in segs)
    assert _DIGIT_RUN.search(heard) and "[EMAIL]" in redact(heard), heard  # the address is heard and found

    transcript = [{"channel": "agent", "start": x.start, "end": x.end, "text": x.text,
                   "words": [{"start": w.start, "end": w.end, "text": w.text} for w in x.words]} for x in segs]
    spans = pii_audio_spans(transcript)
    assert [sp["kind"] for sp in spans] == ["email"]

    store = RecordingStore(tmp_path / "recordings")
    store.write_call("c-red-zh", {"agent": {0: SpooledFrame(0, 0.0, sr, "pcm16le", call.tobytes())}})
    flac = asyncio.run(PlaybackAudio(store).flac("c-red-zh", [("agent", sp["start"], sp["end"]) for sp in spans]))
    assert flac is not None
    played, rate = sf.read(io.BytesIO(flac), dtype="int16")
    out = tmp_path / "zh_played.wav"
    sf.write(out, played[:, 0], rate)

    after = "".join(x.text for x in _transcribe(engine_parts, out, "zh"))
    assert not _DIGIT_RUN.search(after) and "qq" not in after.lower(), after  # the address is gone
    assert "好的" in after, after  # the rest is not
