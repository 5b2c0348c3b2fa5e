"""The bundled KB file and the reloading source the worker, the UI and the tools load it through."""

from __future__ import annotations

from pathlib import Path

from streams.kb.index import KBIndex
from streams.kb.model import load_kb
from streams.matching.versioned import ReloadingFile

DEFAULT_KB = Path(__file__).resolve().parents[1] / "data" / "kb.yaml"


def kb_source(path: Path | str = DEFAULT_KB) -> ReloadingFile[KBIndex]:
    return ReloadingFile(path, lambda p: KBIndex(load_kb(p)))
