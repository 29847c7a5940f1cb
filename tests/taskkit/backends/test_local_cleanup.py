"""The embedded family's housekeeping: TTL collections, the queue, lifecycle rules on blobs (local only)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from taskkit.backends.local.blobs import LocalBlobStore
from taskkit.backends.local.broker import LocalBroker, open_queue
from taskkit.backends.local.cleanup import expire_blobs, housekeeping, prune_queue
from taskkit.backends.local.dispatcher import LocalDispatcher, Subscription
from taskkit.backends.local.documents import LocalDocumentStore

DAY = 24 * 3600.0


def test_expired_records_of_ttl_collections_are_deleted(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path / "documents.sqlite3")
    now = time.time()
    store.set("taskkit_leases/old", {"status": "done", "expireAt": now - 1})
    store.set("taskkit_leases/live", {"status": "running", "expireAt": now + DAY})
    store.set("taskkit_dead_letters/old", {"reason": "x", "expireAt": now - 1})
    store.set("taskkit_chords/no-ttl-field", {"status": "open"})
    store.set("jobs/j1", {"status": "completed", "expireAt": now - 1})  # no TTL policy on jobs
    counter = store.change_counter()
    report = housekeeping(tmp_path, documents=store, blobs=None, retention_s=7 * DAY, now=now)
    assert report.documents == 2
    assert store.get("taskkit_leases/old") is None and store.get("taskkit_dead_letters/old") is None
    assert store.get("taskkit_leases/live") is not None
    assert store.get("taskkit_chords/no-ttl-field") is not None
    assert store.get("jobs/j1") is not None
    assert store.change_counter() > counter  # watchers see the deletion
    store.close()


def test_queue_keeps_what_is_still_owed_and_prunes_what_ended(tmp_path: Path) -> None:
    broker = LocalBroker(tmp_path / "broker.sqlite3")
    acked_id = broker.publish("t", b"acked")
    waiting_id = broker.publish("t", b"waiting")
    sub = Subscription("t-push", "t", ("http://127.0.0.1:9/unused",))
    dispatcher = LocalDispatcher(tmp_path / "broker.sqlite3", [sub])
    dispatcher._route()  # routes both messages (no thread: nothing is delivered)
    queue = open_queue(tmp_path / "broker.sqlite3")
    queue.run_write(
        lambda c: c.execute("UPDATE deliveries SET state = 'acked', updated_at = 0 WHERE message_id = ?", (acked_id,))
    )
    unrouted_id = broker.publish("t", b"not yet routed")
    assert prune_queue(queue, cutoff=time.time() + DAY) == (1, 1)
    left = {row[0] for row in queue.connection().execute("SELECT id FROM messages")}
    assert left == {waiting_id, unrouted_id}
    assert [d for d, _ in broker.pending("t")] == [b"waiting", b"not yet routed"]
    queue.close()
    dispatcher.stop()
    broker.close()


def test_lifecycle_rule_deletes_old_objects_under_its_prefix_only(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs", b"k" * 32, "http://127.0.0.1:1")
    for key in ("intermediate/j1/plan.json", "intermediate/j2/plan.json", "uploads/u/s.musicxml"):
        blobs.put(key, b"x")
    old = time.time() - 4 * DAY
    os.utime(blobs.root / "objects/intermediate/j1/plan.json", (old, old))
    os.utime(blobs.root / "objects/uploads/u/s.musicxml", (old, old))
    deleted = expire_blobs(blobs, {"intermediate/": 3 * DAY}, now=time.time())
    assert deleted == {"intermediate/": 1}
    assert blobs.list() == ["intermediate/j2/plan.json", "uploads/u/s.musicxml"]
    assert not (blobs.root / "objects/intermediate/j1").exists()  # no empty folders left per job
    assert not (blobs.root / "meta/intermediate/j1").exists()
    blobs.put("intermediate/j1/plan.json", b"again")  # its folder is made again on write
    assert blobs.get("intermediate/j1/plan.json") == b"again"


def test_scratch_files_of_dead_writers_are_removed_after_a_day(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path / "documents.sqlite3")
    blobs = LocalBlobStore(tmp_path / "blobs", b"k" * 32, "http://127.0.0.1:1")
    stale = blobs.root / "objects/jobs/.output.wav.abc.part"
    fresh = blobs.root / "objects/jobs/.other.wav.def.part"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - 2 * DAY
    os.utime(stale, (old, old))
    report = housekeeping(tmp_path, documents=store, blobs=blobs, retention_s=7 * DAY)
    assert report.scratch_files == 1
    assert not stale.exists() and fresh.exists()
    store.close()
