"""Declaring and enqueueing tasks."""

from __future__ import annotations

import json

import pytest

from taskkit import ConfigError, EnqueueError, Kit, Settings
from taskkit.backends.local.broker import LocalBroker


def test_decorator_keeps_the_function(kit: Kit) -> None:
    @kit.task(name="double", max_attempts=2)
    def double(x: int) -> int:
        """Doubles."""
        return 2 * x

    assert double(x=4) == 8
    assert double.__doc__ == "Doubles."
    assert double.name == "double"
    assert kit.registry["double"] is double


def test_unknown_option_fails_with_a_suggestion(kit: Kit) -> None:
    with pytest.raises(ConfigError, match="Did you mean 'max_attempts'"):

        @kit.task(max_attempt=3)
        def f() -> None: ...


def test_duplicate_name_fails_at_declaration(kit: Kit) -> None:
    with pytest.raises(ConfigError, match=r"already registered.*another name"):

        @kit.task(name="record")
        def other() -> None: ...


def test_positional_only_signature_refused(kit: Kit) -> None:
    with pytest.raises(ConfigError, match="keyword arguments only"):

        @kit.task(name="pos")
        def pos(a: int, /) -> None: ...


@pytest.mark.parametrize("bad", [{1, 2}, object(), float("nan"), b"bytes"])
def test_non_json_argument_fails_at_enqueue(kit: Kit, bad: object) -> None:
    with pytest.raises(EnqueueError, match="JSON"):
        kit.registry["record"].delay(value=bad)  # type: ignore[arg-type]
    assert LocalBroker(kit.settings.data_dir / "broker.sqlite3").pending("tasks") == []


def test_missing_argument_fails_at_enqueue(kit: Kit) -> None:
    with pytest.raises(EnqueueError, match="missing a required argument"):
        kit.registry["flaky"].delay()


def test_delay_publishes_the_message_format(kit: Kit) -> None:
    task_id = kit.registry["record"].delay(sleep_s=0, value="hi")
    [(data, attributes)] = LocalBroker(kit.settings.data_dir / "broker.sqlite3").pending("tasks")
    assert json.loads(data) == {
        "task": "record",
        "id": task_id,
        "kwargs": {"sleep_s": 0, "value": "hi"},
        "parent": None,
        "trace": None,
    }
    assert attributes == {"task": "record", "id": task_id}


def test_send_task_by_name_with_explicit_id_and_topic(kit: Kit) -> None:
    assert kit.send_task("elsewhere.render", {"job_id": "j1"}, task_id="render-j1", topic="gpu") == "render-j1"
    [(data, attributes)] = LocalBroker(kit.settings.data_dir / "broker.sqlite3").pending("gpu")
    assert json.loads(data)["kwargs"] == {"job_id": "j1"}
    assert attributes["id"] == "render-j1"


def test_topic_option_routes_the_task(tmp_path) -> None:  # type: ignore[no-untyped-def]
    k = Kit("t", settings=Settings(data_dir=tmp_path))

    @k.task(name="gpu_task", topic="gpu-tier")
    def gpu_task() -> None: ...

    gpu_task.delay()
    assert len(LocalBroker(tmp_path / "broker.sqlite3").pending("gpu-tier")) == 1
    assert k.topics() == ["gpu-tier"]


def test_timing_configuration_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    k = Kit("t", settings=Settings(data_dir=tmp_path, ack_deadline_s=60))

    @k.task(name="long", time_limit_s=120)
    def long() -> None: ...

    with pytest.raises(ConfigError, match="exceeds the ack deadline"):
        k.check_timing()


def test_delivery_attempts_must_exceed_attempts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    k = Kit("t", settings=Settings(data_dir=tmp_path, max_delivery_attempts=6))

    @k.task(name="t", max_attempts=5)
    def t() -> None: ...

    with pytest.raises(ConfigError, match="max_delivery_attempts >= 10"):
        k.check_timing()


def test_short_lease_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    k = Kit("t", settings=Settings(data_dir=tmp_path))

    @k.task(name="t", time_limit_s=100, lease_ttl_s=0.5)
    def t() -> None: ...

    with pytest.raises(ConfigError, match=r"lease_ttl_s=0\.5 is too short for its heartbeat"):
        k.check_timing()


def test_redelivery_must_outlast_a_dead_workers_lease(tmp_path) -> None:  # type: ignore[no-untyped-def]
    k = Kit("t", settings=Settings(data_dir=tmp_path, min_backoff_s=0.1, max_backoff_s=0.5, max_delivery_attempts=10))

    @k.task(name="t", max_attempts=3, time_limit_s=30)
    def t() -> None: ...

    with pytest.raises(ConfigError, match="stops redelivering after"):
        k.check_timing()
