"""Lease transitions: acquire, duplicates, live leases, takeover after expiry, fencing."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskkit.backends.local.documents import LocalDocumentStore
from taskkit.errors import LeaseLost
from taskkit.lease import Acquired, Busy, Exhausted, Finished, LeaseManager


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def leases(tmp_path: Path, clock: Clock) -> LeaseManager:
    return LeaseManager(LocalDocumentStore(tmp_path / "d.sqlite3"), retention_s=100, clock=clock)


def acquire(leases: LeaseManager, owner: str, max_attempts: int = 3, **kw: object) -> object:
    return leases.acquire("t1", task_name="t", owner=owner, ttl_s=10, max_attempts=max_attempts, **kw)  # type: ignore[arg-type]


def test_first_acquire_then_duplicate_after_done(leases: LeaseManager) -> None:
    got = acquire(leases, "a")
    assert isinstance(got, Acquired)
    assert (got.lease.fence, got.lease.attempt) == (1, 1)
    leases.finish(got.lease, result={"ok": 1})
    dup = acquire(leases, "b")
    assert isinstance(dup, Finished) and dup.status == "done" and dup.record["result"] == {"ok": 1}


def test_live_lease_elsewhere_is_busy_and_not_an_attempt(leases: LeaseManager, clock: Clock) -> None:
    assert isinstance(acquire(leases, "a"), Acquired)
    clock.now += 5
    busy = acquire(leases, "b")
    assert isinstance(busy, Busy) and busy.retry_after_s == pytest.approx(5)
    assert leases.get("t1")["attempts"] == 1  # type: ignore[index]


def test_takeover_after_expiry_fences_the_stale_owner(leases: LeaseManager, clock: Clock) -> None:
    first = acquire(leases, "a")
    assert isinstance(first, Acquired)
    clock.now += 11
    second = acquire(leases, "b")
    assert isinstance(second, Acquired)
    assert (second.lease.fence, second.lease.attempt, second.lease.owner) == (2, 2, "b")
    with pytest.raises(LeaseLost):
        leases.finish(first.lease)
    with pytest.raises(LeaseLost):
        leases.store.transaction(lambda tx: leases.check(tx, first.lease))
    assert leases.release(first.lease) is False
    leases.finish(second.lease)
    assert leases.get("t1")["status"] == "done"  # type: ignore[index]


def test_retry_backoff_delays_the_next_attempt(leases: LeaseManager, clock: Clock) -> None:
    got = acquire(leases, "a")
    assert isinstance(got, Acquired)
    assert leases.release(got.lease, retry_at=clock.now + 3, error="boom")
    assert isinstance(acquire(leases, "b"), Busy)
    clock.now += 3.1
    again = acquire(leases, "b")
    assert isinstance(again, Acquired) and again.lease.attempt == 2


def test_exhausted_takes_a_failing_lease_once(leases: LeaseManager, clock: Clock) -> None:
    for _ in range(2):
        got = acquire(leases, "a", max_attempts=2)
        assert isinstance(got, Acquired)
        leases.release(got.lease, retry_at=clock.now)
    out = acquire(leases, "a", max_attempts=2)
    assert isinstance(out, Exhausted)
    assert leases.get("t1")["status"] == "failing"  # type: ignore[index]
    assert isinstance(acquire(leases, "b", max_attempts=2), Busy)  # the hook is running elsewhere
    leases.mark_failed(out.lease, error={"code": "max_attempts", "message": "x"})
    assert isinstance(acquire(leases, "b", max_attempts=2), Finished)
