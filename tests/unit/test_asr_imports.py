"""Importing the ASR engine and the pure streaming logic loads no model runtime and no Faust.

Run in a fresh interpreter each (``sys.modules`` of the test process already holds everything).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

HEAVY = ("faust", "faster_whisper", "ctranslate2", "onnxruntime", "streams")


@pytest.mark.parametrize(
    "module",
    [
        "models.whisper.engine",  # load() is explicit: importing it loads nothing
        "models.whisper.decoding",
        "pipeline.asr.stream",  # pure logic: no Kafka records, no model
        "pipeline.asr.loading",
    ],
)
def test_import_loads_no_model_runtime_and_no_faust(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"
