"""Shared fixtures and the test-tier rule.

Tiers (exactly one marker per test, enforced at collection):
- ``unit``: pure logic, no services, no network;
- ``integration``: a real embedded Kafka-protocol broker, real models, real databases;
- ``e2e``: a real browser against the running system.

Brokers: tests run on the embedded Tansu broker; a test (or module) marked ``both_brokers``
runs twice, on Tansu and on Apache Kafka 4.x (KRaft, one node, jars from ``make kafka``), with
the Tansu workarounds (streams.platform.embedded_quirks) on only for Tansu.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from streams.platform.broker import EmbeddedBroker
from streams.platform.kafka_broker import KafkaCluster
from streams.platform.settings import CommonSettings

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


BROKER_KINDS = ("tansu", "kafka")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_brokers") and "broker_kind" in metafunc.fixturenames:
        metafunc.parametrize("broker_kind", BROKER_KINDS, indirect=True)


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


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One real Apache Kafka node (KRaft) for the whole session, started on first use.

    No JVM or no jar cache is an error, not a skip: CI must run these (``make test`` fetches the jars).
    """
    cluster = KafkaCluster(tmp_path_factory.mktemp("kafka"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def broker_kind(request: pytest.FixtureRequest) -> str:
    """``tansu`` unless the test is marked ``both_brokers`` (then each kind in turn)."""
    return str(getattr(request, "param", "tansu"))


@pytest.fixture
def test_broker(broker_kind: str, request: pytest.FixtureRequest) -> EmbeddedBroker | KafkaCluster:
    """The broker this test runs on (see broker_kind)."""
    if broker_kind == "kafka":
        return request.getfixturevalue("kafka_broker")  # type: ignore[no-any-return]
    return request.getfixturevalue("embedded_broker")  # type: ignore[no-any-return]


@pytest.fixture
def broker_settings(test_broker: EmbeddedBroker | KafkaCluster, tmp_path: Path) -> CommonSettings:
    """CommonSettings on the test's broker with topic names unique to this test."""
    return _settings(CommonSettings, test_broker, tmp_path)


@pytest.fixture
def make_settings(test_broker: EmbeddedBroker | KafkaCluster, tmp_path: Path) -> Callable[..., Any]:
    """make_settings(SettingsClass, **overrides): a component's settings on the test's broker.

    All settings made by one test share the same unique topic names, so components wired
    together in a test talk to each other and to nothing else.
    """
    suffix = uuid.uuid4().hex[:8]

    def make(cls: type[S] = CommonSettings, **overrides: Any) -> S:  # type: ignore[assignment]
        return _settings(cls, test_broker, tmp_path, suffix, **overrides)

    return make


def _settings(
    cls: type[S], broker: EmbeddedBroker | KafkaCluster, tmp_path: Path, suffix: str | None = None, **overrides: Any
) -> S:
    suffix = suffix or uuid.uuid4().hex[:8]
    base = CommonSettings()
    topics = {name: f"{getattr(base, name)}.{suffix}" for name in CommonSettings.model_fields if name.startswith("topic_")}
    values: dict[str, Any] = {
        "broker_url": broker.url,
        "broker_embedded": isinstance(broker, EmbeddedBroker),
        "partitions": 2,
        "data_dir": tmp_path / "var",
        **topics,
    }
    values.update(overrides)
    return cls(**values)
