"""Leases are short and renewed by a heartbeat: a long task keeps its lease, a stale one learns it lost it."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import taskkit
from taskkit import Kit, Settings
from taskkit.errors import LeaseLost
from taskkit.executor import Executor
from taskkit.heartbeat import Heartbeat
from taskkit.lease import Acquired, lease_path
from taskkit.message import TaskMessage
from tests.taskkit.conftest import push_body, wait_for


def heartbeat_kit(settings: Settings) -> Kit:
    kit = Kit("heartbeat", settings=settings)
    gate = threading.Event()
    kit.gate = gate  # type: ignore[attr-defined]

    @kit.task(name="long", time_limit_s=30, lease_ttl_s=1.5, max_attempts=2)
    def long_task() -> str:
        ctx = taskkit.current()
        while not gate.is_set():  # runs for several lease lifetimes
            ctx.check_time()
            time.sleep(0.05)
        return "finished"

    return kit


def test_a_task_longer_than_its_lease_keeps_it_and_duplicates_wait(settings: Settings) -> None:
    kit = heartbeat_kit(settings)
    body = push_body(TaskMessage("long", "L1", {}))
    answers: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: answers.setdefault("first", Executor(kit).handle_push(body)))
    runner.start()
    wait_for(lambda: (kit.leases.get("L1") or {}).get("status") == "running", what="task running")
    first_until = kit.leases.get("L1")["lease_until"]  # type: ignore[index]
    time.sleep(4.0)  # more than two lease lifetimes
    record = kit.leases.get("L1") or {}
    assert record["status"] == "running" and record["fence"] == 1
    assert record["lease_until"] > first_until + 1.0  # renewed
    duplicate = Executor(kit)
    duplicate.owner = "another-worker"
    assert duplicate.handle_push(body).answer.value == "busy"  # not taken over while alive
    kit.gate.set()  # type: ignore[attr-defined]
    runner.join(10)
    assert answers["first"].answer.value == "done"
    assert (kit.leases.get("L1") or {})["status"] == "done"


def test_a_taken_over_lease_stops_the_running_attempt_at_its_next_check(settings: Settings) -> None:
    kit = heartbeat_kit(settings)
    body = push_body(TaskMessage("long", "L2", {}))
    answers: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: answers.setdefault("first", Executor(kit).handle_push(body)))
    runner.start()
    wait_for(lambda: (kit.leases.get("L2") or {}).get("status") == "running", what="task running")
    # Another attempt takes the task over (its fence grows), as after a network partition.
    kit.documents.update(lease_path("L2"), {"fence": 7, "owner": "elsewhere"})
    runner.join(10)
    assert not runner.is_alive()
    assert answers["first"].answer.value == "stale"
    assert (kit.leases.get("L2") or {})["owner"] == "elsewhere"  # the stale attempt wrote nothing


def test_renewal_is_fenced(settings: Settings) -> None:
    kit = Kit("renew", settings=settings)
    got = kit.leases.acquire("R1", task_name="t", owner="a", ttl_s=5, max_attempts=1)
    assert isinstance(got, Acquired)
    until = kit.leases.renew(got.lease, 60)
    assert until == pytest.approx(time.time() + 60, abs=5)
    kit.documents.update(lease_path("R1"), {"fence": 2})
    with pytest.raises(LeaseLost):
        kit.leases.renew(got.lease, 60)
    beat = Heartbeat(kit.leases, got.lease, 0.3)
    with beat:
        wait_for(lambda: beat.lost is not None, timeout_s=10, what="heartbeat notices the takeover")
