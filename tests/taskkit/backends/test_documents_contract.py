"""The document-store contract, run against both families (see conftest.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from taskkit.backends.base import DocumentStore, Query, Snapshot, Transaction
from taskkit.errors import AlreadyExists, BackendError, NotFound
from tests.taskkit.backends.concurrency import race, wait_for

DOC = {"name": "Ada", "n": 3, "ratio": 0.5, "ok": True, "none": None, "tags": ["a", "b"], "nested": {"x": 1}}


def test_get_absent_is_none_and_set_round_trips(document_store: DocumentStore) -> None:
    assert document_store.get("jobs/missing") is None
    document_store.set("jobs/j1", DOC)
    assert document_store.get("jobs/j1") == DOC
    document_store.set("jobs/j1", {"only": 1})
    assert document_store.get("jobs/j1") == {"only": 1}, "set replaces the whole document"


def test_create_if_absent(document_store: DocumentStore) -> None:
    assert document_store.create("jobs/j1", {"v": 1}) is True
    assert document_store.create("jobs/j1", {"v": 2}) is False
    assert document_store.get("jobs/j1") == {"v": 1}


def test_update_merges_dotted_paths_and_needs_the_document(document_store: DocumentStore) -> None:
    document_store.set("jobs/j1", {"status": "pending", "progress": {"stage": "parse", "value": 0.0}})
    document_store.update("jobs/j1", {"status": "processing", "progress.value": 0.5, "credits.reserved": 3})
    assert document_store.get("jobs/j1") == {
        "status": "processing",
        "progress": {"stage": "parse", "value": 0.5},
        "credits": {"reserved": 3},
    }
    with pytest.raises(NotFound):
        document_store.update("jobs/absent", {"status": "x"})
    assert document_store.get("jobs/absent") is None


def test_delete_is_idempotent(document_store: DocumentStore) -> None:
    document_store.set("jobs/j1", {"v": 1})
    document_store.delete("jobs/j1")
    assert document_store.get("jobs/j1") is None
    document_store.delete("jobs/j1")


def test_subcollections_are_separate(document_store: DocumentStore) -> None:
    document_store.set("users/u1/items/a", {"v": 1})
    document_store.set("users/u2/items/b", {"v": 2})
    assert [s.path for s in document_store.query("users/u1/items")] == ["users/u1/items/a"]


def test_invalid_paths_are_refused(document_store: DocumentStore) -> None:
    with pytest.raises(BackendError):
        document_store.get("jobs")
    with pytest.raises(BackendError):
        document_store.set("jobs/a/b", {})


def _seed(store: DocumentStore) -> None:
    for i, (user, status, score) in enumerate(
        [("u1", "done", 5), ("u2", "pending", 3), ("u1", "pending", 9), ("u3", "failed", 1), ("u2", "done", 7)]
    ):
        store.set(f"jobs/j{i}", {"user": user, "status": status, "score": score, "i": i})


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([("status", "==", "pending")], {1, 2}),
        ([("status", "!=", "pending")], {0, 3, 4}),
        ([("score", "<", 5)], {1, 3}),
        ([("score", "<=", 5)], {0, 1, 3}),
        ([("score", ">", 5)], {2, 4}),
        ([("score", ">=", 7)], {2, 4}),
        ([("status", "in", ["failed", "done"])], {0, 3, 4}),
        ([("user", "==", "u1"), ("status", "==", "pending")], {2}),
        ([("user", "==", "u2"), ("score", ">", 4)], {4}),
    ],
)
def test_query_filters(document_store: DocumentStore, filters: list[Any], expected: set[int]) -> None:
    _seed(document_store)
    found = document_store.query("jobs", filters)
    assert {s.data["i"] for s in found} == expected
    assert all(isinstance(s, Snapshot) and s.path == f"jobs/{s.id}" for s in found)


def test_query_order_and_limit(document_store: DocumentStore) -> None:
    _seed(document_store)
    assert [s.data["score"] for s in document_store.query("jobs", order_by=[("score", "asc")])] == [1, 3, 5, 7, 9]
    top = document_store.query("jobs", order_by=[("score", "desc")], limit=2)
    assert [s.id for s in top] == ["j2", "j4"]
    by_user = document_store.query("jobs", order_by=[("user", "asc"), ("score", "desc")])
    assert [s.id for s in by_user] == ["j2", "j0", "j4", "j1", "j3"]
    pending = document_store.query("jobs", [("status", "==", "pending")], [("score", "asc")], limit=1)
    assert [s.id for s in pending] == ["j1"]


def test_nested_fields_with_punctuation(document_store: DocumentStore) -> None:
    document_store.set("jobs/a", {"meta": {"render-type": "song", "n": 2}})
    document_store.set("jobs/b", {"meta": {"render-type": "phrase", "n": 1}})
    document_store.update("jobs/b", {"meta.render-type": "song"})
    found = document_store.query("jobs", [("meta.render-type", "==", "song")], [("meta.n", "asc")])
    assert [s.id for s in found] == ["b", "a"]
    assert document_store.get("jobs/b") == {"meta": {"render-type": "song", "n": 1}}


def test_transaction_reads_then_writes(document_store: DocumentStore) -> None:
    document_store.set("users/u1", {"credits": 10, "reserved": 0})

    def reserve(tx: Transaction) -> int:
        user = tx.get("users/u1")
        assert user is not None
        tx.update("users/u1", {"credits": user["credits"] - 4, "reserved": user["reserved"] + 4})
        tx.create("jobs/j1", {"user": "u1", "reserved": 4})
        return int(user["credits"]) - 4

    assert document_store.transaction(reserve) == 6
    assert document_store.get("users/u1") == {"credits": 6, "reserved": 4}
    assert document_store.get("jobs/j1") == {"user": "u1", "reserved": 4}


def test_transaction_query_sees_committed_documents(document_store: DocumentStore) -> None:
    _seed(document_store)
    found = document_store.transaction(lambda tx: tx.query(Query("jobs", (("status", "==", "done"),))))
    assert {s.id for s in found} == {"j0", "j4"}


def test_transaction_create_of_existing_fails_whole_commit(document_store: DocumentStore) -> None:
    document_store.set("jobs/j1", {"v": 1})

    def clash(tx: Transaction) -> None:
        tx.set("jobs/other", {"v": 2})
        tx.create("jobs/j1", {"v": 3})

    with pytest.raises(AlreadyExists):
        document_store.transaction(clash)
    assert document_store.get("jobs/j1") == {"v": 1}
    assert document_store.get("jobs/other") is None, "a failed commit writes nothing"


def test_transaction_update_of_absent_is_not_found(document_store: DocumentStore) -> None:
    with pytest.raises(NotFound):
        document_store.transaction(lambda tx: tx.update("jobs/absent", {"v": 1}))


def test_transaction_error_from_fn_passes_through_and_writes_nothing(document_store: DocumentStore) -> None:
    class Boom(Exception):
        pass

    def fail(tx: Transaction) -> None:
        tx.set("jobs/j1", {"v": 1})
        raise Boom("no")

    with pytest.raises(Boom):
        document_store.transaction(fail)
    assert document_store.get("jobs/j1") is None


def test_transaction_delete(document_store: DocumentStore) -> None:
    document_store.set("jobs/j1", {"v": 1})
    document_store.transaction(lambda tx: tx.delete("jobs/j1"))
    assert document_store.get("jobs/j1") is None


@pytest.mark.slow
def test_racing_increments_all_count(document_store: DocumentStore) -> None:
    # Small on purpose: Google's Firestore emulator resolves each contended commit with a 2 s lock timeout.
    workers, rounds = 4, 2
    document_store.set("counters/c", {"n": 0})

    def increment(tx: Transaction) -> None:
        doc = tx.get("counters/c")
        assert doc is not None
        tx.update("counters/c", {"n": doc["n"] + 1})

    def worker(_: int) -> None:
        for _ in range(rounds):
            document_store.transaction(increment)

    results = race(workers, worker)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert document_store.get("counters/c") == {"n": workers * rounds}


def test_create_if_absent_race_has_one_winner(document_store: DocumentStore) -> None:
    results = race(8, lambda i: document_store.create("leases/t1", {"owner": i}))
    assert sorted(results, key=str) == [False] * 7 + [True]
    winner = results.index(True)
    assert document_store.get("leases/t1") == {"owner": winner}


@pytest.mark.slow
def test_transactional_claim_race_has_one_winner(document_store: DocumentStore) -> None:
    def claim(i: int) -> bool:
        def fn(tx: Transaction) -> bool:
            if tx.get("leases/t1") is not None:
                return False
            tx.set("leases/t1", {"owner": i})
            return True

        return document_store.transaction(fn)

    results = race(5, claim)
    assert results.count(True) == 1, results
    assert results.count(False) == 4, results
    assert document_store.get("leases/t1") == {"owner": results.index(True)}


def test_watch_document_fires_on_each_change(document_store: DocumentStore) -> None:
    seen: list[dict[str, Any] | None] = []
    watch = document_store.watch_document("jobs/j1", seen.append)
    try:
        assert wait_for(lambda: seen == [None]), seen
        document_store.set("jobs/j1", {"status": "pending"})
        assert wait_for(lambda: seen[-1:] == [{"status": "pending"}]), seen
        document_store.update("jobs/j1", {"status": "completed"})
        assert wait_for(lambda: seen[-1:] == [{"status": "completed"}]), seen
        document_store.delete("jobs/j1")
        assert wait_for(lambda: seen[-1:] == [None]), seen
    finally:
        watch.close()
    count = len(seen)
    document_store.set("jobs/j1", {"status": "after close"})
    time.sleep(0.5)
    assert len(seen) == count, "no callbacks after close()"


def test_watch_query_fires_with_matching_documents(document_store: DocumentStore) -> None:
    seen: list[list[Snapshot]] = []
    query = Query("jobs", (("user", "==", "u1"),), (("n", "asc"),))
    document_store.set("jobs/a", {"user": "u1", "n": 2})
    watch = document_store.watch_query(query, seen.append)
    try:
        assert wait_for(lambda: bool(seen) and [s.id for s in seen[-1]] == ["a"]), seen
        document_store.set("jobs/b", {"user": "u2", "n": 0})
        document_store.set("jobs/c", {"user": "u1", "n": 1})
        assert wait_for(lambda: [s.id for s in seen[-1]] == ["c", "a"]), seen
        assert all(s.id != "b" for snaps in seen for s in snaps)
        document_store.update("jobs/a", {"user": "u3"})
        assert wait_for(lambda: [s.id for s in seen[-1]] == ["c"]), seen
    finally:
        watch.close()
