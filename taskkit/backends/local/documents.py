"""The embedded document store: one SQLite file (WAL), shared by every process of the embedded stack.

Documents are JSON text keyed by path. Every write bumps a global change counter, which the change
feed polls; a watch re-reads its target only when the counter moved and calls back only when the
result differs from the last one it delivered.
"""

from __future__ import annotations

import copy
import json
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from taskkit.backends.base import (
    DocCallback,
    Document,
    DocumentStore,
    Query,
    QueryCallback,
    Snapshot,
    Transaction,
    Watch,
    check_doc_path,
    collection_of,
)
from taskkit.backends.local.query import run_query
from taskkit.backends.local.sqlite import SqliteFile
from taskkit.errors import AlreadyExists, NotFound

T = TypeVar("T")
_FIELD = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    path TEXT PRIMARY KEY,
    collection TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS docs_collection ON docs (collection);
CREATE TABLE IF NOT EXISTS clock (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL);
INSERT OR IGNORE INTO clock (id, seq) VALUES (1, 0);
"""


def apply_update(data: Document, fields: Document) -> Document:
    """A copy of `data` with `fields` merged in; dotted names reach into nested maps (as Firestore)."""
    result = copy.deepcopy(data)
    for dotted, value in fields.items():
        parts = dotted.split(".")
        target = result
        for part in parts[:-1]:
            child = target.get(part)
            if not isinstance(child, dict):
                child = {}
                target[part] = child
            target = child
        target[parts[-1]] = copy.deepcopy(value)
    return result


def _read(conn: sqlite3.Connection, path: str) -> Document | None:
    row = conn.execute("SELECT data FROM docs WHERE path = ?", (path,)).fetchone()
    return None if row is None else dict(json.loads(row[0]))


def _run_query(conn: sqlite3.Connection, query: Query) -> list[Snapshot]:
    """The query's result. Equality filters on strings run in SQLite, so a query for one user's
    documents reads only that user's rows; `run_query` then applies Firestore's exact rules."""
    sql = "SELECT path, data FROM docs WHERE collection = ?"
    params: list[Any] = [query.collection]
    for name, op, value in query.filters:
        if op == "==" and isinstance(value, str) and _FIELD.match(name):
            sql += " AND json_extract(data, ?) = ?"
            params += ["$." + ".".join(f'"{part}"' for part in name.split(".")), value]
    rows = conn.execute(sql, params).fetchall()
    return run_query([Snapshot(path, json.loads(data)) for path, data in rows], query)


def _write(conn: sqlite3.Connection, path: str, data: Document) -> None:
    conn.execute(
        "INSERT INTO docs (path, collection, data) VALUES (?, ?, ?) "
        "ON CONFLICT(path) DO UPDATE SET data = excluded.data",
        (path, collection_of(path), json.dumps(data, allow_nan=False)),
    )


def _tick(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE clock SET seq = seq + 1 WHERE id = 1")


class _LocalTransaction(Transaction):
    """Reads go straight to the write-locked connection; writes are buffered and applied at commit."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._writes: list[tuple[str, str, Any]] = []

    def get(self, path: str) -> Document | None:
        return _read(self._conn, check_doc_path(path))

    def query(self, query: Query) -> list[Snapshot]:
        return _run_query(self._conn, query)

    def set(self, path: str, data: Any) -> None:
        self._writes.append(("set", check_doc_path(path), dict(data)))

    def create(self, path: str, data: Any) -> None:
        self._writes.append(("create", check_doc_path(path), dict(data)))

    def update(self, path: str, fields: Any) -> None:
        self._writes.append(("update", check_doc_path(path), dict(fields)))

    def delete(self, path: str) -> None:
        self._writes.append(("delete", check_doc_path(path), None))

    def commit(self) -> None:
        for op, path, payload in self._writes:
            if op == "delete":
                self._conn.execute("DELETE FROM docs WHERE path = ?", (path,))
                continue
            current = _read(self._conn, path)
            if op == "create" and current is not None:
                raise AlreadyExists(f"document {path} already exists")
            if op == "update":
                if current is None:
                    raise NotFound(f"cannot update {path}: no such document")
                payload = apply_update(current, payload)
            _write(self._conn, path, payload)
        if self._writes:
            _tick(self._conn)


class LocalDocumentStore(DocumentStore):
    """Document store on one SQLite file; safe across threads and processes."""

    def __init__(self, path: Path, *, poll_interval_s: float = 0.05) -> None:
        self._db = SqliteFile(path, _SCHEMA)
        self._poll_interval_s = poll_interval_s
        self._feed: _ChangeFeed | None = None
        self._feed_lock = threading.Lock()

    def _get(self, path: str) -> Document | None:
        return _read(self._db.connection(), path)

    def _create(self, path: str, data: Document) -> bool:
        def create(conn: sqlite3.Connection) -> bool:
            if _read(conn, path) is not None:
                return False
            _write(conn, path, data)
            _tick(conn)
            return True

        return self._db.run_write(create)

    def _set(self, path: str, data: Document) -> None:
        def put(conn: sqlite3.Connection) -> None:
            _write(conn, path, data)
            _tick(conn)

        self._db.run_write(put)

    def _update(self, path: str, fields: Document) -> None:
        def update(conn: sqlite3.Connection) -> None:
            current = _read(conn, path)
            if current is None:
                raise NotFound(f"cannot update {path}: no such document")
            _write(conn, path, apply_update(current, fields))
            _tick(conn)

        self._db.run_write(update)

    def _delete(self, path: str) -> None:
        def delete(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM docs WHERE path = ?", (path,)).rowcount:
                _tick(conn)

        self._db.run_write(delete)

    def _query(self, query: Query) -> list[Snapshot]:
        return _run_query(self._db.connection(), query)

    def _transaction(self, fn: Callable[[Transaction], T], deadline_s: float | None) -> T:
        # BEGIN IMMEDIATE holds the write lock for the whole function, so there is no contention to
        # retry: concurrent transactions queue behind each other (SQLite's busy timeout bounds the wait).
        with self._db.write() as conn:
            tx = _LocalTransaction(conn)
            result = fn(tx)
            tx.commit()
            return result

    @property
    def sqlite(self) -> SqliteFile:
        """The underlying file (housekeeping compacts it)."""
        return self._db

    def delete_expired(self, collections: tuple[str, ...], now: float) -> int:
        """Delete documents of `collections` whose top-level `expireAt` is before `now` (a TTL policy)."""
        if not collections:
            return 0

        def delete(conn: sqlite3.Connection) -> int:
            marks = ",".join("?" * len(collections))
            count = conn.execute(
                f"DELETE FROM docs WHERE collection IN ({marks}) AND json_type(data, '$.expireAt') IN "
                "('integer', 'real') AND json_extract(data, '$.expireAt') < ?",
                (*collections, now),
            ).rowcount
            if count:
                _tick(conn)
            return int(count)

        return self._db.run_write(delete)

    def change_counter(self) -> int:
        """A number that grows with every committed write (the change feed polls it)."""
        row = self._db.connection().execute("SELECT seq FROM clock WHERE id = 1").fetchone()
        return int(row[0])

    def _watch_document(self, path: str, callback: DocCallback) -> Watch:
        return self._change_feed().add(lambda: self._get(path), callback)

    def _watch_query(self, query: Query, callback: QueryCallback) -> Watch:
        return self._change_feed().add(lambda: self._query(query), callback)

    def _change_feed(self) -> _ChangeFeed:
        with self._feed_lock:
            if self._feed is None:
                self._feed = _ChangeFeed(self, self._poll_interval_s)
            return self._feed

    def close(self) -> None:
        with self._feed_lock:
            if self._feed is not None:
                self._feed.stop()
                self._feed = None
        self._db.close()


class _LocalWatch(Watch):
    def __init__(self, feed: _ChangeFeed, read: Callable[[], Any], callback: Callable[[Any], None]) -> None:
        self.feed = feed
        self.read = read
        self.callback = callback
        self.last: Any = _UNSET

    def close(self) -> None:
        self.feed.remove(self)


_UNSET = object()


class _ChangeFeed:
    """One polling thread per store, serving every watch of that store."""

    def __init__(self, store: LocalDocumentStore, poll_interval_s: float) -> None:
        self._store = store
        self._interval = poll_interval_s
        self._watches: list[_LocalWatch] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seen = -1
        self._thread = threading.Thread(target=self._run, name="taskkit-doc-feed", daemon=True)
        self._thread.start()

    def add(self, read: Callable[[], Any], callback: Callable[[Any], None]) -> Watch:
        watch = _LocalWatch(self, read, callback)
        with self._lock:
            self._watches.append(watch)
            self._seen = -1  # deliver the initial state on the next poll
        return watch

    def remove(self, watch: _LocalWatch) -> None:
        with self._lock:
            if watch in self._watches:
                self._watches.remove(watch)

    def stop(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                counter = self._store.change_counter()
            except sqlite3.Error:
                continue  # the file is briefly busy; poll again
            if counter == self._seen:
                continue
            self._seen = counter
            with self._lock:
                watches = list(self._watches)
            for watch in watches:
                value = watch.read()
                if value != watch.last:
                    watch.last = value
                    watch.callback(value)
