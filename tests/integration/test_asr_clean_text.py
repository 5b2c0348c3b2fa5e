"""Clean transcript text from the real model: no U+FFFD, word timings on whole characters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pipeline.asr.loading import load_models
from pipeline.asr.offline import transcribe_files
from pipeline.asr.settings import AsrSettings

pytestmark = pytest.mark.integration


def test_casia_clip_that_printed_replacement_characters(shared_data: Path, tmp_path: Path):
    # On main this clip gave "就是下��": the model looped on two bytes that form no character.
    clip = shared_data / "emotion" / "casia" / "wav" / "liuchanhg_angry_201.flac"
    if not clip.is_file():
        pytest.skip(f"{clip} not found")
    settings = AsrSettings(data_dir=tmp_path)
    engine, vad_factory = load_models(settings)
    cfg = settings.transcriber_config(engine.device, partials=False)
    segs = asyncio.run(transcribe_files([clip], engine, vad_factory, cfg, "zh"))[clip.stem]
    assert segs, "no text at all"
    for seg in segs:
        assert "\ufffd" not in seg.text
        assert seg.text.startswith("就是")
        assert seg.words and all(w.text and "\ufffd" not in w.text for w in seg.words)
        assert "".join(w.text for w in seg.words).replace(" ", "") == seg.text.replace(" ", "")
        assert all(0 <= w.start <= w.end <= seg.end - seg.start + 1e-3 for w in seg.words)


def test_transcribe_command_with_a_vocabulary_file(shared_data: Path, tmp_path: Path, capsys):
    import json

    from pipeline.asr.cli import main
    from pipeline.asr.settings import DEFAULT_VOCAB

    clip = shared_data / "speech" / "zh_aishell1_BAC009S0764W0121.wav"
    vocab = tmp_path / "queue.yaml"
    vocab.write_text(DEFAULT_VOCAB.read_text(encoding="utf-8"), encoding="utf-8")
    assert main(["transcribe", "--language", "zh", "--vocab", str(vocab), "--words", str(clip)]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert lines and all(s["language"] == "zh" and "\ufffd" not in s["text"] for s in lines)
    assert all(s["words"] for s in lines)
    vocab.write_text("terms: [broken\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="not valid YAML"):
        main(["transcribe", "--language", "zh", "--vocab", str(vocab), str(clip)])
