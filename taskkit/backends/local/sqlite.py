"""SQLite plumbing shared by the local backends: one connection per thread, WAL, immediate transactions.

Several processes (the supervisor and its workers) open the same files, so every write runs in a
`BEGIN IMMEDIATE` transaction (it takes the write lock up front, which makes read-then-write atomic)
and waits on a held lock rather than failing.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from taskkit.errors import TransientBackendError

T = TypeVar("T")
BUSY_TIMEOUT_MS = 30_000
_LOCK_RETRIES = 5


class SqliteFile:
    """A SQLite database file opened lazily, once per thread."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self._schema = schema
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # executescript manages its own transaction (it commits first), so it runs outside write().
        self.connection().executescript(self._schema)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode; transactions are explicit)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction, committed on success, rolled back on error."""
        conn = self.connection()
        self._begin(conn)
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def run_write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` inside an immediate transaction."""
        with self.write() as conn:
            return fn(conn)

    @staticmethod
    def _begin(conn: sqlite3.Connection) -> None:
        for attempt in range(_LOCK_RETRIES):
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
                if attempt == _LOCK_RETRIES - 1:
                    raise TransientBackendError(f"SQLite database stayed locked: {e}") from e
                time.sleep(0.05 * (attempt + 1))

    def close(self) -> None:
        """Close every connection this object opened (call once no thread uses it any more)."""
        with self._all_lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.ProgrammingError):  # its thread is gone
                    conn.close()
            self._all.clear()
        self._local = threading.local()
