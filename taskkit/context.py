"""The running attempt's context: its lease, its clock and its fenced writes.

A task reaches it with `taskkit.current()`, which keeps task signatures free of framework arguments.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from taskkit.errors import LeaseLost, TaskkitError, TimeLimitExceeded, WorkerShuttingDown
from taskkit.lease import Lease, LeaseManager
from taskkit.message import TaskMessage

if TYPE_CHECKING:
    from taskkit.backends.base import Transaction

T = TypeVar("T")
_current: ContextVar[TaskContext | None] = ContextVar("taskkit_current", default=None)


@dataclass
class TaskContext:
    """One attempt of one task, as seen from inside it."""

    message: TaskMessage
    lease: Lease
    leases: LeaseManager
    time_limit_s: float
    shutdown: threading.Event
    started_at: float = field(default_factory=time.monotonic)
    # Set by the lease heartbeat when another attempt took the task over (the reason).
    lost: Callable[[], str | None] = lambda: None

    @property
    def task_id(self) -> str:
        """The task id (the idempotency key)."""
        return self.message.id

    @property
    def attempt(self) -> int:
        """Which attempt this is, from 1."""
        return self.lease.attempt

    @property
    def fence(self) -> int:
        """The lease's fence: grows with each takeover."""
        return self.lease.fence

    @property
    def deadline(self) -> float:
        """`time.monotonic()` value at which the time limit is reached."""
        return self.started_at + self.time_limit_s

    def remaining_s(self) -> float:
        """Seconds left before the time limit."""
        return self.deadline - time.monotonic()

    def check_time(self) -> None:
        """Cheap check to call between stages and steps: raises once time is up, the worker stops, or the
        lease was taken over (LeaseLost: this attempt is stale and must not write anything more)."""
        lost = self.lost()
        if lost is not None:
            raise LeaseLost(lost)
        if self.shutdown.is_set():
            raise WorkerShuttingDown("worker is shutting down; the task will be redelivered")
        if time.monotonic() >= self.deadline:
            raise TimeLimitExceeded(f"task {self.message.task} used its {self.time_limit_s:g} s time limit")

    def transaction(self, fn: Callable[[Transaction], T]) -> T:
        """A transaction that first checks this attempt still holds its lease (raises LeaseLost if not).

        Use it for every write to shared state, so a stale attempt can never overwrite the result of
        the attempt that took the task over.
        """

        def fenced(tx: Transaction) -> T:
            self.leases.check(tx, self.lease)
            return fn(tx)

        # Contention is retried for as long as this attempt may still run.
        return self.leases.store.transaction(fenced, deadline_s=max(1.0, self.remaining_s()))

    def attempt_key(self, name: str, *, prefix: str = "intermediate") -> str:
        """A blob key private to this attempt; publish it only through a fenced write."""
        return f"{prefix.rstrip('/')}/{self.task_id}/attempt-{self.fence}/{name}"


def current() -> TaskContext:
    """The context of the attempt running in this thread; TaskkitError outside a task."""
    ctx = _current.get()
    if ctx is None:
        raise TaskkitError("taskkit.current() called outside a running task")
    return ctx


def current_or_none() -> TaskContext | None:
    """The running attempt's context, or None when called outside a task (e.g. a direct call)."""
    return _current.get()


def activate(ctx: TaskContext) -> Any:
    """Make `ctx` current; returns the token for `deactivate`."""
    return _current.set(ctx)


def deactivate(token: Any) -> None:
    """Restore the previous context."""
    _current.reset(token)
