from __future__ import annotations

import pytest

from pipeline import cli
from streams.platform.settings import BrokerNotConfigured, CommonSettings

pytestmark = pytest.mark.unit


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLASSIST_BROKER_URL", "kafka://k1:9092, tcp://k2:9093")
    monkeypatch.setenv("CALLASSIST_PARTITIONS", "12")
    monkeypatch.setenv("CALLASSIST_TOPIC_AUDIO", "prod.audio")
    s = CommonSettings()
    assert s.bootstrap_servers() == "k1:9092,k2:9093"
    assert s.faust_broker() == "kafka://k1:9092;kafka://k2:9093"
    assert s.partitions == 12
    assert s.all_topics()[0] == "prod.audio"


def test_no_broker_is_a_clear_error() -> None:
    with pytest.raises(BrokerNotConfigured, match="CALLASSIST_BROKER_URL"):
        CommonSettings(broker_url="").bootstrap_servers()


def test_bad_setting_type_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLASSIST_PARTITIONS", "many")
    with pytest.raises(ValueError, match="partitions"):
        CommonSettings()


def test_unknown_command_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_help_lists_every_component(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("demo", "broker", "ingest", "asr", "emotion", "streams", "ui", "bench"):
        assert f"  {name} " in out
