"""Idempotency leases: one document per task id in `taskkit_leases`, changed only in transactions.

States: `running(owner, fence, lease_until)` while an attempt runs; `retry` after a transient failure
(with `retry_at`, the task's own backoff); `failing(owner, fence, lease_until)` while the failure hook
runs (so it runs once even under concurrent deliveries); then `done` or `failed` for good. A finished id acks its
duplicates without rerunning; a live lease held elsewhere makes a delivery wait (nack, not an
attempt); an expired lease is taken over with fence + 1; finishing needs the same owner and fence.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from taskkit.backends.base import Document, DocumentStore, Transaction
from taskkit.errors import LeaseLost

LEASES = "taskkit_leases"
LeaseStatus = Literal["running", "retry", "failing", "done", "failed"]
Clock = Callable[[], float]


def lease_path(task_id: str) -> str:
    """The document path of a task's lease."""
    return f"{LEASES}/{task_id}"


@dataclass(frozen=True)
class Lease:
    """A lease this process holds: the proof an attempt presents with each fenced write."""

    task_id: str
    owner: str
    fence: int
    attempt: int
    lease_until: float


@dataclass(frozen=True)
class Acquired:
    """The attempt may run."""

    lease: Lease


@dataclass(frozen=True)
class Finished:
    """The task already ended (`done` or `failed`): ack the duplicate."""

    status: LeaseStatus
    record: Document


@dataclass(frozen=True)
class Busy:
    """Another attempt holds a live lease, or the task's retry backoff has not elapsed: nack."""

    retry_after_s: float
    reason: str


@dataclass(frozen=True)
class Exhausted:
    """The task must fail (out of attempts, or told to): `lease` is held in state `failing`."""

    lease: Lease
    record: Document


AcquireResult = Acquired | Finished | Busy | Exhausted


class LeaseManager:
    """Lease transitions over any DocumentStore."""

    def __init__(self, store: DocumentStore, *, retention_s: float, clock: Clock = time.time) -> None:
        self.store = store
        self.retention_s = retention_s
        self.clock = clock

    def get(self, task_id: str) -> Document | None:
        """The lease record of a task, if any."""
        return self.store.get(lease_path(task_id))

    def acquire(
        self,
        task_id: str,
        *,
        task_name: str,
        owner: str,
        ttl_s: float,
        max_attempts: int,
        extra: dict[str, Any] | None = None,
        fail: bool = False,
    ) -> AcquireResult:
        """Start an attempt if the task is neither finished, nor held, nor out of attempts.

        Out of attempts (or with `fail`), the lease is taken in state `failing` instead: the caller
        runs the failure hook under it and then calls `mark_failed`.
        """
        path = lease_path(task_id)

        def attempt(tx: Transaction) -> AcquireResult:
            now = self.clock()
            must_fail = fail
            record = tx.get(path)
            if record is None:
                record = {"task": task_name, "fence": 0, "attempts": 0, "createdAt": now, **(extra or {})}
            else:
                status = record.get("status")
                if status in ("done", "failed"):
                    return Finished(status, record)
                if status in ("running", "failing") and record["lease_until"] > now:
                    return Busy(record["lease_until"] - now, f"lease held by {record['owner']}")
                if status == "retry" and record.get("retry_at", 0) > now and not must_fail:
                    return Busy(record["retry_at"] - now, "retry backoff")
                must_fail = must_fail or status == "failing" or record["attempts"] >= max_attempts
            attempts = record["attempts"] if must_fail else record["attempts"] + 1
            lease = Lease(task_id, owner, record["fence"] + 1, attempts, now + ttl_s)
            record.update(
                status="failing" if must_fail else "running",
                owner=owner,
                fence=lease.fence,
                attempts=lease.attempt,
                lease_until=lease.lease_until,
                startedAt=now,
                updatedAt=now,
                expireAt=lease.lease_until + self.retention_s,
            )
            tx.set(path, record)
            return Exhausted(lease, record) if must_fail else Acquired(lease)

        return self.store.transaction(attempt)

    def check(self, tx: Transaction, lease: Lease) -> Document:
        """Inside a transaction: raise LeaseLost unless `lease` still holds the task with its fence."""
        record = tx.get(lease_path(lease.task_id))
        if (
            record is None
            or record.get("status") not in ("running", "failing")
            or record.get("owner") != lease.owner
            or record.get("fence") != lease.fence
        ):
            raise LeaseLost(f"task {lease.task_id} is no longer held by {lease.owner} with fence {lease.fence}")
        return record

    def finish(
        self, lease: Lease, *, result: Any = None, tx_extra: Callable[[Transaction], None] | None = None
    ) -> None:
        """Mark the task done (fenced). `tx_extra` writes more in the same transaction."""

        def done(tx: Transaction) -> None:
            self.check(tx, lease)
            if tx_extra is not None:
                tx_extra(tx)
            now = self.clock()
            fields = {"status": "done", "finishedAt": now, "updatedAt": now, "expireAt": now + self.retention_s}
            if result is not None:
                fields["result"] = result
            tx.update(lease_path(lease.task_id), fields)

        self.store.transaction(done)

    def renew(self, lease: Lease, ttl_s: float) -> float:
        """Extend a held lease to now + `ttl_s` (fenced: LeaseLost if another attempt took it over).

        Leases are short and renewed by a heartbeat while the attempt runs, so a dead worker's task is
        taken over within one TTL instead of after its whole time limit. Returns the new lease_until.
        """

        def extend(tx: Transaction) -> float:
            self.check(tx, lease)
            now = self.clock()
            until = now + ttl_s
            tx.update(lease_path(lease.task_id), {"lease_until": until, "expireAt": until + self.retention_s})
            return until

        return self.store.transaction(extend)

    def release(self, lease: Lease, *, retry_at: float | None = None, error: str | None = None) -> bool:
        """Give the lease up (same fence, expiry now) so a redelivery can run at once or after `retry_at`.

        Returns False if the lease was already lost (then there is nothing to release).
        """

        def give_up(tx: Transaction) -> bool:
            try:
                record = self.check(tx, lease)
            except LeaseLost:
                return False
            now = self.clock()
            fields: dict[str, Any] = {"lease_until": now, "updatedAt": now}
            if retry_at is not None and record.get("status") == "running":
                fields.update(status="retry", retry_at=retry_at)
            if error is not None:
                fields["error"] = error
            tx.update(lease_path(lease.task_id), fields)
            return True

        return self.store.transaction(give_up)

    def mark_failed(self, lease: Lease, *, error: dict[str, Any]) -> None:
        """Record the task failed for good (fenced: only while `lease` still holds it)."""

        def fail(tx: Transaction) -> None:
            self.check(tx, lease)
            now = self.clock()
            tx.update(
                lease_path(lease.task_id),
                {
                    "status": "failed",
                    "error": error,
                    "finishedAt": now,
                    "updatedAt": now,
                    "lease_until": now,
                    "expireAt": now + self.retention_s,
                },
            )

        self.store.transaction(fail)
