"""The KRaft cluster id the launcher draws is one kafka-storage accepts."""

from __future__ import annotations

import base64
import uuid

import pytest

from streams.platform import kafka_broker

pytestmark = pytest.mark.unit


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # the first UUID drawn encodes to "-…" (its first 6 bits are 62): `format -t -…` would read it as an option
    dash_first = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))
    assert base64.urlsafe_b64encode(dash_first.bytes).decode().startswith("-")
    drawn = iter([dash_first, uuid.UUID(int=42)])
    monkeypatch.setattr(kafka_broker.uuid, "uuid4", lambda: next(drawn))
    cluster_id = kafka_broker.new_cluster_id()
    assert not cluster_id.startswith("-") and len(cluster_id) == 22
    assert base64.urlsafe_b64decode(cluster_id + "==") == uuid.UUID(int=42).bytes
