"""The broker contract, run against both families (see conftest.py)."""

from __future__ import annotations

import pytest

from taskkit.errors import BackendError
from tests.taskkit.backends.conftest import BrokerHarness


def test_publish_delivers_data_and_attributes(broker_harness: BrokerHarness) -> None:
    topic = broker_harness.new_topic()
    first = broker_harness.broker.publish(topic, b'{"task": "render"}', {"task": "render", "id": "t-1"})
    second = broker_harness.broker.publish(topic, b"\x00\xffbinary", {})
    assert first and second and first != second, "each publish gets its own message id"
    received = broker_harness.received(topic, 2)
    assert sorted(received, key=lambda m: m[0]) == sorted(
        [(b'{"task": "render"}', {"task": "render", "id": "t-1"}), (b"\x00\xffbinary", {})], key=lambda m: m[0]
    )


def test_topics_are_separate(broker_harness: BrokerHarness) -> None:
    a, b = broker_harness.new_topic(), broker_harness.new_topic()
    broker_harness.broker.publish(a, b"for a", {"n": "1"})
    assert broker_harness.received(a, 1) == [(b"for a", {"n": "1"})]
    assert broker_harness.received(b, 1, timeout_s=1.0) == []


def test_attributes_must_be_strings(broker_harness: BrokerHarness) -> None:
    topic = broker_harness.new_topic()
    with pytest.raises(BackendError, match="attributes must be strings"):
        broker_harness.broker.publish(topic, b"x", {"n": 1})  # type: ignore[dict-item]
