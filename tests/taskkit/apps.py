"""A test application for taskkit: tasks whose behaviour the tests steer through the document store.

Every run of a task is recorded as a document (`runs/<task id>-<n>`), so tests count real executions
across processes. `make_kit(settings)` builds a fresh kit; the module-level `kit` (settings from the
environment) is what `python -m taskkit worker --app tests.taskkit.apps:kit` serves.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import taskkit
from taskkit import Kit, Reject, Settings
from taskkit.backends.base import Transaction


def record_run(kit: Kit, name: str, **extra: Any) -> None:
    """Record one execution of the running task."""
    ctx = taskkit.current()
    kit.documents.set(
        f"runs/{ctx.task_id}-{uuid.uuid4().hex[:8]}",
        {"task": name, "task_id": ctx.task_id, "attempt": ctx.attempt, "fence": ctx.fence, "pid": os.getpid(), **extra},
    )


def runs(kit: Kit, task_id: str) -> list[dict[str, Any]]:
    """Recorded executions of a task id."""
    return [s.data for s in kit.documents.query("runs", [("task_id", "==", task_id)])]


def count_hook(kit: Kit, task_id: str) -> int:
    """How many times the failure hook ran for a task id."""
    doc = kit.documents.get(f"hooks/{task_id}")
    return int(doc["count"]) if doc else 0


def make_kit(settings: Settings | None = None) -> Kit:
    """A kit with the test tasks, on the given settings (or the environment's)."""
    kit = Kit("taskkit-tests", settings=settings)

    def on_failure(failure: taskkit.Failure) -> None:
        def bump(tx: Transaction) -> None:
            doc = tx.get(f"hooks/{failure.task_id}") or {"count": 0}
            tx.set(f"hooks/{failure.task_id}", {"count": doc["count"] + 1, "code": failure.code})

        kit.documents.transaction(bump)

    @kit.task(name="noop", max_attempts=3, time_limit_s=10)
    def noop(sent_at: float = 0.0) -> None:
        """Does nothing (the benchmark's task)."""

    @kit.task(name="record", max_attempts=3, time_limit_s=3, on_failure=on_failure)
    def record(sleep_s: float = 0.0, value: str = "") -> str:
        record_run(kit, "record", value=value)
        time.sleep(sleep_s)
        return value

    @kit.task(
        name="flaky", max_attempts=5, min_backoff_s=0.05, max_backoff_s=0.2, time_limit_s=10, on_failure=on_failure
    )
    def flaky(fail_times: int) -> int:
        record_run(kit, "flaky")
        if taskkit.current().attempt <= fail_times:
            raise ConnectionError(f"dependency unavailable (attempt {taskkit.current().attempt})")
        return taskkit.current().attempt

    @kit.task(name="bad_input", max_attempts=3, time_limit_s=10, permanent=(ValueError,), on_failure=on_failure)
    def bad_input(score: str) -> None:
        record_run(kit, "bad_input")
        raise ValueError(f"cannot read score {score!r}")

    @kit.task(name="rejecting", max_attempts=3, time_limit_s=10, on_failure=on_failure)
    def rejecting() -> None:
        record_run(kit, "rejecting")
        raise Reject("no lyrics in this score", code="no_lyrics")

    @kit.task(name="crash", max_attempts=3, time_limit_s=1, lease_ttl_s=4, on_failure=on_failure)
    def crash() -> None:
        record_run(kit, "crash")
        os._exit(17)  # the worker dies mid-task, every time

    @kit.task(name="write_shared", max_attempts=5, time_limit_s=0.4, lease_ttl_s=1.5, min_backoff_s=0.01)
    def write_shared(key: str, first_sleep_s: float = 0.0) -> None:
        ctx = taskkit.current()
        record_run(kit, "write_shared")
        if ctx.attempt == 1:
            time.sleep(first_sleep_s)  # stall past the lease: another worker takes over meanwhile
        ctx.transaction(lambda tx: tx.set(f"shared/{key}", {"writer_fence": ctx.fence, "attempt": ctx.attempt}))

    @kit.task(name="slow_steps", max_attempts=5, time_limit_s=20, min_backoff_s=0.01)
    def slow_steps(steps: int, step_s: float) -> None:
        record_run(kit, "slow_steps")
        for _ in range(steps):
            taskkit.current().check_time()
            time.sleep(step_s)

    @kit.task(name="member", max_attempts=3, time_limit_s=10)
    def member(index: int) -> int:
        record_run(kit, "member", index=index)
        return index

    @kit.task(name="join", max_attempts=3, time_limit_s=10)
    def join(chord_id: str) -> None:
        record_run(kit, "join")

    return kit


kit = make_kit()
