"""A mutual-exclusion lock on the document store, for short critical sections on a hot document.

Many transactions racing on one document (one user creating many jobs at once) can starve each
other on Firestore, whose server client locks what a transaction reads: every racer holds a read
lock and none can upgrade it. Taking this lock first lets them in one by one. It rests on the store's
atomic create-if-absent; a holder that died is replaced once its lock expires.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from taskkit.backends.base import DocumentStore, Transaction
from taskkit.errors import TransientBackendError

MUTEXES = "taskkit_mutexes"


@contextmanager
def document_mutex(store: DocumentStore, name: str, *, ttl_s: float = 10.0, timeout_s: float = 30.0) -> Iterator[None]:
    """Hold the lock `name` for the body (which must finish well within `ttl_s`).

    Raises TransientBackendError if the lock stays taken for `timeout_s`.
    """
    path = f"{MUTEXES}/{name}"
    token = uuid.uuid4().hex
    deadline = time.monotonic() + timeout_s
    pause_s = 0.005
    while True:
        now = time.time()
        if store.create(path, {"owner": token, "heldUntil": now + ttl_s, "expireAt": now + ttl_s}):
            break
        held = store.get(path)
        if held is not None and held.get("heldUntil", 0) < now:
            _delete_if_owned(store, path, str(held.get("owner")))  # its holder died
            continue
        if time.monotonic() > deadline:
            raise TransientBackendError(f"lock {name} stayed taken for {timeout_s:g} s")
        time.sleep(random.uniform(pause_s / 2, pause_s))
        pause_s = min(pause_s * 2, 0.25)
    try:
        yield
    finally:
        _delete_if_owned(store, path, token)


def _delete_if_owned(store: DocumentStore, path: str, owner: str) -> None:
    def release(tx: Transaction) -> None:
        held = tx.get(path)
        if held is not None and held.get("owner") == owner:
            tx.delete(path)

    store.transaction(release)
