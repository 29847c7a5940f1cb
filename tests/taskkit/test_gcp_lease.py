"""Idempotency leases on Firestore (Google's emulator): racing workers, takeover and fenced writes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from taskkit.backends.base import DocumentStore, Transaction
from taskkit.backends.gcp import create_document_store
from taskkit.errors import LeaseLost
from taskkit.lease import Acquired, Busy, LeaseManager, lease_path
from taskkit.settings import Settings
from tests.emulators import Emulator, firestore_host
from tests.taskkit.backends.concurrency import race

__all__ = ["firestore_host"]
pytestmark = pytest.mark.emulator
PROJECT = "taskkit-lease"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(firestore_host: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[DocumentStore]:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host.host_port)
    reset = f"{firestore_host.url}/emulator/v1/projects/{PROJECT}/databases/(default)/documents"
    httpx.delete(reset, timeout=10).raise_for_status()
    documents = create_document_store(Settings(backend="gcp", project=PROJECT))
    yield documents
    documents.close()


@pytest.mark.slow
def test_two_workers_racing_for_one_lease_exactly_one_runs(store: DocumentStore) -> None:
    leases = LeaseManager(store, retention_s=3600)
    for _ in range(2):
        task_id = uuid.uuid4().hex
        results = race(
            2,
            lambda i, task_id=task_id: leases.acquire(
                task_id, task_name="render", owner=f"worker-{i}", ttl_s=60, max_attempts=3
            ),
        )
        acquired = [r for r in results if isinstance(r, Acquired)]
        assert len(acquired) == 1, results
        assert [type(r) for r in results if r is not acquired[0]] == [Busy]
        record = leases.get(task_id)
        assert record is not None
        assert (record["status"], record["owner"], record["fence"]) == ("running", acquired[0].lease.owner, 1)


def test_fenced_write_of_the_stale_owner_is_refused(store: DocumentStore) -> None:
    clock = Clock()
    leases = LeaseManager(store, retention_s=3600, clock=clock)
    first = leases.acquire("t1", task_name="render", owner="slow", ttl_s=30, max_attempts=3)
    assert isinstance(first, Acquired)
    clock.now += 31  # the slow worker's lease expires while it is still working
    second = leases.acquire("t1", task_name="render", owner="fast", ttl_s=30, max_attempts=3)
    assert isinstance(second, Acquired)
    assert second.lease.fence == first.lease.fence + 1

    def write_output(tx: Transaction) -> None:
        tx.set("jobs/j1", {"outputPath": "jobs/j1/attempt-1.wav"})

    with pytest.raises(LeaseLost):
        leases.finish(first.lease, tx_extra=write_output)
    assert store.get("jobs/j1") is None, "the loser's fenced write never lands"
    leases.finish(second.lease, tx_extra=lambda tx: tx.set("jobs/j1", {"outputPath": "jobs/j1/attempt-2.wav"}))
    assert store.get("jobs/j1") == {"outputPath": "jobs/j1/attempt-2.wav"}
    record = store.get(lease_path("t1"))
    assert record is not None
    assert (record["status"], record["owner"], record["fence"]) == ("done", "fast", 2)
