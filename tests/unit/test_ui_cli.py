"""`callassist ui` command line: clear errors for bad configuration, token hashing."""

from __future__ import annotations

import io

import pytest

from assist_ui.auth import hash_token
from assist_ui.cli import main
from streams.platform.settings import BrokerNotConfigured

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in ("BROKER_URL", "UI_USERS_FILE", "UI_USERS_JSON", "UI_DB_URL", "UI_BRIDGE_ENABLED", "UI_SINK_ENABLED"):
        monkeypatch.delenv(f"CALLASSIST_{name}", raising=False)
    monkeypatch.setenv("CALLASSIST_DATA_DIR", str(tmp_path))


def test_hash_token_reads_stdin(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-token-123\n"))
    assert main(["hash-token"]) == 0
    assert capsys.readouterr().out.strip() == hash_token("a-long-enough-token-123")
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["hash-token"]) == 2
    assert "at least 16" in capsys.readouterr().err


def test_run_without_broker_says_how_to_configure_it():
    with pytest.raises(BrokerNotConfigured, match="CALLASSIST_BROKER_URL"):
        main(["run"])


def test_run_without_users_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("CALLASSIST_UI_BRIDGE_ENABLED", "false")
    monkeypatch.setenv("CALLASSIST_UI_SINK_ENABLED", "false")
    assert main(["run"]) == 2
    assert "no users configured" in capsys.readouterr().err


def test_bad_database_url_is_refused(monkeypatch, capsys):
    monkeypatch.setenv("CALLASSIST_UI_DB_URL", "mysql://db/qa")
    assert main(["migrate"]) == 2
    assert "postgresql://" in capsys.readouterr().err


def test_unknown_subcommand_exits_with_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
