"""Pub/Sub broker failures: retried with backoff, then raised, never swallowed."""

from __future__ import annotations

import time

import pytest

from taskkit.backends.gcp import create_broker
from taskkit.errors import BackendError, ConfigError, NotFound, TransientBackendError
from taskkit.settings import Settings
from tests.emulators import Emulator, free_port, pubsub_host

__all__ = ["pubsub_host"]
PROJECT = "taskkit-broker"


@pytest.mark.emulator
def test_missing_topic_is_not_found_without_retrying(pubsub_host: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_host.host_port)
    broker = create_broker(Settings(backend="gcp", project=PROJECT, pubsub_publish_attempts=5))
    started = time.monotonic()
    with pytest.raises(NotFound, match=f"projects/{PROJECT}/topics/no-such-topic"):
        broker.publish("no-such-topic", b"x")
    assert time.monotonic() - started < 5, "a permanent error is not retried"
    broker.close()


def test_unreachable_pubsub_is_retried_then_transient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there
    settings = Settings(backend="gcp", project=PROJECT, pubsub_publish_timeout_s=1.0, pubsub_publish_attempts=2)
    broker = create_broker(settings)
    started = time.monotonic()
    with pytest.raises(TransientBackendError, match="2 attempts") as caught:
        broker.publish("render-jobs", b"x", {"task": "render"})
    elapsed = time.monotonic() - started
    assert caught.value.__cause__ is not None, "the client's own error is kept as the cause"
    assert 1.5 <= elapsed < 15, elapsed


def test_bad_topic_names_and_reserved_attributes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    broker = create_broker(Settings(backend="gcp", project=PROJECT))
    for bad in ("ab", "9jobs", "goog-jobs", "jobs/x"):
        with pytest.raises(ConfigError, match="topic name"):
            broker.publish(bad, b"x")
    with pytest.raises(BackendError, match="reserved"):
        broker.publish("render-jobs", b"x", {"timeout": "5"})
