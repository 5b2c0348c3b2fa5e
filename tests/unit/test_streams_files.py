"""Rule and knowledge-base files: validation errors, versions, reload without restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streams.compliance.rules import load_rules
from streams.compliance.source import DEFAULT_RULES, rules_source
from streams.kb.model import load_kb
from streams.kb.source import DEFAULT_KB, kb_source
from streams.matching.versioned import FileFormatError, ReloadingFile

pytestmark = pytest.mark.unit

RULE = """
version: "1"
rules:
  - id: R1
    kind: forbidden
    channel: agent
    severity: high
    message: {en: Not allowed}
    phrases: {en: [guaranteed return]}
"""


def _write(tmp_path: Path, text: str, name: str = "f.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_bundled_files_load_with_versions() -> None:
    rules, kb = load_rules(DEFAULT_RULES), load_kb(DEFAULT_KB)
    assert rules.version.startswith("2025.06.1+") and len(rules.version.split("+")[1]) == 12
    assert {r.kind for r in rules.rules} == {"forbidden", "required", "ordering"}
    assert {r.severity for r in rules.rules} >= {"low", "medium", "high", "critical"}
    assert len(kb.entries) >= 15 and kb.strategies
    for e in kb.entries:  # every entry serves both languages
        assert e.questions.zh and e.questions.en and e.answer.zh and e.answer.en, e.id


def test_version_changes_with_content_even_if_declared_version_does_not(tmp_path: Path) -> None:
    a = load_rules(_write(tmp_path, RULE))
    b = load_rules(_write(tmp_path, RULE.replace("guaranteed return", "risk free")))
    assert a.version.split("+")[0] == b.version.split("+")[0] == "1"
    assert a.version != b.version


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("kind: forbidden", "kind: banned"), "rules[0] (id=R1).kind"),
        (("severity: high", "severity: huge"), "rules[0] (id=R1).severity"),
        (("phrases: {en: [guaranteed return]}", "phrases: {en: []}"), "needs at least one phrase"),
        (("kind: forbidden", "kind: required"), "needs deadline_s"),
        (("channel: agent", "channel: robot"), "rules[0] (id=R1).channel"),
        (("    message: {en: Not allowed}", "    message: {en: Not allowed}\n    colour: red"), "colour"),
    ],
)
def test_rule_file_errors_name_the_rule(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    with pytest.raises(FileFormatError) as err:
        load_rules(_write(tmp_path, RULE.replace(*edit)))
    assert message in str(err.value) and "f.yaml" in str(err.value)


def test_rule_file_rejects_duplicate_ids_and_dangling_references(tmp_path: Path) -> None:
    dup = RULE + RULE.split("rules:\n")[1]
    with pytest.raises(FileFormatError, match="duplicate rule id"):
        load_rules(_write(tmp_path, dup))
    ordering = RULE + """
  - id: O1
    kind: ordering
    severity: low
    message: {en: x}
    phrases: {en: [your balance is]}
    requires: {rule: R1}
"""
    with pytest.raises(FileFormatError, match="not a required rule"):
        load_rules(_write(tmp_path, ordering))


def test_duplicate_yaml_keys_are_an_error_not_a_silent_override(tmp_path: Path) -> None:
    text = RULE.replace("phrases: {en: [guaranteed return]}", "phrases:\n      en: [a]\n      en: [b]")
    with pytest.raises(FileFormatError, match="duplicate key 'en'"):
        load_rules(_write(tmp_path, text))


@pytest.mark.parametrize("text", ["[1, 2]", "version: [unclosed", ""])
def test_not_a_mapping_or_not_yaml(tmp_path: Path, text: str) -> None:
    with pytest.raises(FileFormatError):
        load_rules(_write(tmp_path, text))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="cannot read"):
        load_kb(tmp_path / "nope.yaml")


def test_kb_errors_name_the_entry(tmp_path: Path) -> None:
    text = DEFAULT_KB.read_text(encoding="utf-8").replace("intent: claim_report", "intent: Claim Report", 1)
    with pytest.raises(FileFormatError, match=r"entries\[0\] \(id=motor_claim_report\)\.intent"):
        load_kb(_write(tmp_path, text))


def _bump(p: Path, text: str) -> None:
    p.write_text(text, encoding="utf-8")
    st = p.stat()  # make sure the mtime moves even on coarse-timestamp filesystems
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_reload_picks_up_edits_and_keeps_last_good_version_on_a_broken_edit(tmp_path: Path) -> None:
    p = _write(tmp_path, RULE)
    src = rules_source(p)
    v1 = src.current.version
    assert src.maybe_reload() is False  # unchanged file: nothing to do

    _bump(p, RULE.replace("guaranteed return", "risk free"))
    assert src.maybe_reload() is True
    v2 = src.current.version
    assert v2 != v1 and [r.phrases.en for r in src.current.ruleset.rules] == [["risk free"]]

    _bump(p, RULE.replace("kind: forbidden", "kind: nonsense"))
    assert src.maybe_reload() is False
    assert src.current.version == v2 and "(id=R1).kind" in src.last_error and src.failed_reloads == 1

    _bump(p, RULE)
    assert src.maybe_reload() is True and src.current.version == v1 and src.last_error == ""


def test_reload_survives_the_file_disappearing(tmp_path: Path) -> None:
    p = _write(tmp_path, DEFAULT_KB.read_text(encoding="utf-8"), "kb.yaml")
    src = kb_source(p)
    version = src.current.version
    p.unlink()
    assert src.maybe_reload() is False and src.current.version == version


def test_first_load_must_succeed(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError):
        ReloadingFile(_write(tmp_path, "[]"), load_rules)
