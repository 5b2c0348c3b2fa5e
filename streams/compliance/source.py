"""The bundled rule file and the reloading source the worker and the tools load it through."""

from __future__ import annotations

from pathlib import Path

from streams.compliance.engine import ComplianceEngine
from streams.compliance.rules import load_rules
from streams.matching.versioned import ReloadingFile

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "data" / "rules.yaml"


def rules_source(path: Path | str = DEFAULT_RULES) -> ReloadingFile[ComplianceEngine]:
    return ReloadingFile(path, lambda p: ComplianceEngine(load_rules(p)))
