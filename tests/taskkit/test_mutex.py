"""The document-store mutex: holders never overlap, a dead holder is replaced after its TTL."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from taskkit.backends.local.documents import LocalDocumentStore
from taskkit.errors import TransientBackendError
from taskkit.mutex import MUTEXES, document_mutex


def test_holders_never_overlap(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path / "d.sqlite3")
    inside, overlaps, entries = [0], [0], [0]
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            with document_mutex(store, "m"):
                with lock:
                    inside[0] += 1
                    overlaps[0] += inside[0] > 1
                    entries[0] += 1
                time.sleep(0.002)
                with lock:
                    inside[0] -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert entries[0] == 40 and overlaps[0] == 0
    assert store.get(f"{MUTEXES}/m") is None


def test_a_dead_holders_lock_expires(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path / "d.sqlite3")
    store.set(f"{MUTEXES}/m", {"owner": "dead", "heldUntil": time.time() + 0.3})
    with pytest.raises(TransientBackendError, match="stayed taken"), document_mutex(store, "m", timeout_s=0.1):
        pass
    time.sleep(0.3)
    with document_mutex(store, "m"):
        assert store.get(f"{MUTEXES}/m")["owner"] != "dead"  # type: ignore[index]
