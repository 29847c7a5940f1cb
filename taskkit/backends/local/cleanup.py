"""Housekeeping for the embedded family: what Firestore TTL, Pub/Sub retention and GCS lifecycle rules do.

A long-lived embedded stack must not grow without bound. In production three services delete old
data by themselves; here the supervisor calls `housekeeping` on its schedule (TASKKIT_SWEEP_INTERVAL_S):

- documents of the TTL collections whose `expireAt` has passed are deleted, as the Firestore TTL
  policies of `terraform/firestore.tf` (`firestore_ttl_fields`) delete them;
- deliveries that ended (acked, dead-lettered, exhausted, unrouted) more than the record retention ago
  are deleted from the queue, and with them the messages nobody still waits for (Pub/Sub keeps no
  acknowledged message);
- scratch files a crashed writer left in the blob folder are deleted after a day (the bucket's
  AbortIncompleteMultipartUpload rule); objects under a prefix older than its age go through
  `expire_blobs`, the local form of a GCS `age` + `matches_prefix` lifecycle rule, which the
  application configures (taskkit knows no prefixes of its own).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from taskkit.backends.local.blobs import LocalBlobStore
from taskkit.backends.local.broker import open_queue
from taskkit.backends.local.documents import LocalDocumentStore
from taskkit.backends.local.sqlite import SqliteFile

log = structlog.get_logger("taskkit.cleanup")

# The collections with a TTL policy on `expireAt` (terraform/firestore.tf, firestore_ttl_fields).
TTL_COLLECTIONS = ("taskkit_leases", "taskkit_dead_letters", "taskkit_chords", "taskkit_mutexes")
FINAL_DELIVERY_STATES = ("acked", "dead_lettered", "exhausted", "unrouted")
SCRATCH_MAX_AGE_S = 24 * 3600.0  # the bucket's AbortIncompleteMultipartUpload rule: age 1 day


@dataclass
class CleanupReport:
    """What one housekeeping round deleted."""

    documents: int = 0
    deliveries: int = 0
    messages: int = 0
    blobs: dict[str, int] = field(default_factory=dict)
    scratch_files: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "deliveries": self.deliveries,
            "messages": self.messages,
            "blobs": dict(self.blobs),
            "scratch_files": self.scratch_files,
        }


def expire_documents(store: LocalDocumentStore, now: float, collections: tuple[str, ...] = TTL_COLLECTIONS) -> int:
    """Delete the documents of `collections` whose `expireAt` is before `now`; returns how many."""
    return store.delete_expired(collections, now)


def prune_queue(queue: SqliteFile, cutoff: float) -> tuple[int, int]:
    """Delete deliveries that ended before `cutoff`, then messages no delivery refers to any more.

    A message is kept while any of its deliveries is ready or in flight, and an unrouted message
    (published, not yet seen by the dispatcher) is never touched. Returns (deliveries, messages).
    """

    def prune(conn: sqlite3.Connection) -> tuple[int, int]:
        marks = ",".join("?" * len(FINAL_DELIVERY_STATES))
        deliveries = conn.execute(
            f"DELETE FROM deliveries WHERE state IN ({marks}) AND updated_at < ?", (*FINAL_DELIVERY_STATES, cutoff)
        ).rowcount
        messages = conn.execute(
            "DELETE FROM messages WHERE routed = 1 AND publish_time < ? AND NOT EXISTS "
            "(SELECT 1 FROM deliveries d WHERE d.message_id = messages.id)",
            (cutoff,),
        ).rowcount
        return int(deliveries), int(messages)

    return queue.run_write(prune)


def expire_blobs(store: LocalBlobStore, rules: Mapping[str, float], now: float) -> dict[str, int]:
    """Apply lifecycle rules {prefix: age in seconds}: delete objects under a prefix created longer ago."""
    return {prefix: store.delete_older_than(prefix, age_s, now) for prefix, age_s in rules.items()}


def remove_stale_scratch(store: LocalBlobStore, now: float, max_age_s: float = SCRATCH_MAX_AGE_S) -> int:
    """Delete `.part` files a writer that died mid-write left behind."""
    removed = 0
    for path in store.root.rglob("*.part"):
        try:
            if path.is_file() and now - path.stat().st_mtime > max_age_s:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # its writer finished meanwhile
            continue
    return removed


def housekeeping(
    data_dir: Path,
    *,
    documents: LocalDocumentStore,
    blobs: LocalBlobStore | None,
    retention_s: float,
    now: float | None = None,
) -> CleanupReport:
    """One round over the embedded stack's data folder; `now` may be given (tests, benchmarks)."""
    now = time.time() if now is None else now
    report = CleanupReport(documents=expire_documents(documents, now))
    queue_path = Path(data_dir) / "broker.sqlite3"
    if queue_path.exists():
        queue = open_queue(queue_path)
        try:
            report.deliveries, report.messages = prune_queue(queue, now - retention_s)
            compact(queue)
        finally:
            queue.close()
    compact(documents.sqlite)
    if blobs is not None:
        report.scratch_files = remove_stale_scratch(blobs, now)
    if report.documents or report.deliveries or report.messages or report.scratch_files:
        log.info("housekeeping.done", **report.as_dict())
    return report


def compact(db: SqliteFile) -> None:
    """Give freed space back: truncate the WAL, and rebuild the file once most of it is free pages.

    Deleted rows only free pages inside the file (reused by later writes); VACUUM shrinks the file and
    runs only when it would at least halve it, so the brief exclusive lock it takes is rare.
    """
    conn = db.connection()
    try:
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        if pages and free * 2 > pages:
            conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.OperationalError as e:  # another process holds the file: next round
        log.info("housekeeping.compact_skipped", file=str(db.path), error=str(e))


def folder_size(path: Path) -> int:
    """Bytes used by the files under `path` (the benchmarks report the data folder's size)."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += (Path(root) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total
