"""A large KB may be kept as JSON (same structure as the YAML file): loads, validates, reloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from streams.kb.model import load_kb
from streams.kb.source import DEFAULT_KB, kb_source
from streams.matching.versioned import FileFormatError

pytestmark = pytest.mark.unit


def test_json_kb_loads_like_the_yaml_one_and_reloads(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_KB.read_text(encoding="utf-8"))
    path = tmp_path / "kb.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    kb = load_kb(path)
    assert [e.id for e in kb.entries] == [e.id for e in load_kb(DEFAULT_KB).entries]
    source = kb_source(path)
    data["version"] = "2099.1"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert source.maybe_reload() and source.current.version.startswith("2099.1+")


def test_json_kb_errors_name_the_file_and_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "kb.json"
    path.write_text('{"version": "1", "version": "2", "entries": []}', encoding="utf-8")
    with pytest.raises(FileFormatError, match="duplicate key 'version'"):
        load_kb(path)
    entries = [{"id": "a", "intent": "x", "title": {"en": "A"}, "questions": {"en": ["q"]}, "answer": {"en": "y"}},
               {"id": "a", "intent": "x", "title": {"en": "A"}, "questions": {"en": ["q2"]}, "answer": {"en": "y"}},
               {"id": "b", "intent": "Bad Intent", "title": {"en": "B"}, "questions": {"en": ["q"]},
                "answer": {"en": "y"}}]
    path.write_text(json.dumps({"version": "1", "entries": entries}), encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"entries\[2\] \(id=b\)\.intent"):
        load_kb(path)
    path.write_text(json.dumps({"version": "1", "entries": entries[:2]}), encoding="utf-8")
    with pytest.raises(FileFormatError, match="duplicate entry id"):
        load_kb(path)
