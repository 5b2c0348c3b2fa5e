"""Shared fixtures and the test-tier rule.

Tiers (exactly one marker per test, enforced at collection):
- ``unit``: pure logic, no services, no network;
- ``integration``: a real embedded Kafka-protocol broker, real models, real databases;
- ``e2e``: a real browser against the running system.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from streams.broker import EmbeddedBroker
from streams.settings import CommonSettings

TIERS = ("unit", "integration", "e2e")
REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

S = TypeVar("S", bound=CommonSettings)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    bad = []
    for item in items:
        tiers = [m.name for m in item.iter_markers() if m.name in TIERS]
        if len(set(tiers)) != 1:
            bad.append(f"{item.nodeid} (markers: {sorted(set(tiers)) or 'none'})")
    if bad:
        raise pytest.UsageError(
            "every test needs exactly one tier marker (unit, integration or e2e):\n  " + "\n  ".join(bad)
        )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout (real recordings and corpora)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def embedded_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One real Tansu broker for the whole test session."""
    log_file = tmp_path_factory.mktemp("broker") / "tansu.log"
    broker = EmbeddedBroker(log_file=log_file)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def broker_settings(embedded_broker: EmbeddedBroker, tmp_path: Path) -> CommonSettings:
    """CommonSettings on the embedded broker with topic names unique to this test."""
    return _settings(CommonSettings, embedded_broker, tmp_path)


@pytest.fixture
def make_settings(embedded_broker: EmbeddedBroker, tmp_path: Path) -> Callable[..., Any]:
    """make_settings(SettingsClass, **overrides): a component's settings on the embedded broker.

    All settings made by one test share the same unique topic names, so components wired
    together in a test talk to each other and to nothing else.
    """
    suffix = uuid.uuid4().hex[:8]

    def make(cls: type[S] = CommonSettings, **overrides: Any) -> S:  # type: ignore[assignment]
        return _settings(cls, embedded_broker, tmp_path, suffix, **overrides)

    return make


def _settings(
    cls: type[S], broker: EmbeddedBroker, tmp_path: Path, suffix: str | None = None, **overrides: Any
) -> S:
    suffix = suffix or uuid.uuid4().hex[:8]
    base = CommonSettings()
    topics = {name: f"{getattr(base, name)}.{suffix}" for name in CommonSettings.model_fields if name.startswith("topic_")}
    values: dict[str, Any] = {
        "broker_url": broker.url,
        "broker_embedded": True,
        "partitions": 2,
        "data_dir": tmp_path / "var",
        **topics,
    }
    values.update(overrides)
    return cls(**values)
