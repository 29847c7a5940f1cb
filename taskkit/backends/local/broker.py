"""The embedded broker: a durable SQLite queue that any process may publish into.

Publishing only inserts a row; the dispatcher (`dispatcher.py`, in the supervising process) routes
each message to the subscriptions of its topic and pushes it. Messages are on disk before `publish`
returns, so they survive a crash or restart of every process.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path

from taskkit.backends.base import Broker
from taskkit.backends.local.sqlite import SqliteFile

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    data BLOB NOT NULL,
    attributes TEXT NOT NULL,
    publish_time REAL NOT NULL,
    routed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_unrouted ON messages (routed, publish_time);
CREATE TABLE IF NOT EXISTS deliveries (
    message_id TEXT NOT NULL,
    subscription TEXT NOT NULL,
    state TEXT NOT NULL,            -- ready | inflight | acked | dead_lettered | exhausted | unrouted
    delivery_attempt INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_outcome TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (message_id, subscription)
);
CREATE INDEX IF NOT EXISTS deliveries_ready ON deliveries (subscription, state, next_attempt_at);
"""


def open_queue(path: Path) -> SqliteFile:
    """The queue file (created with its schema if new)."""
    return SqliteFile(path, SCHEMA)


class LocalBroker(Broker):
    """Publisher side of the embedded broker."""

    def __init__(self, path: Path) -> None:
        self._db = open_queue(path)

    @property
    def path(self) -> Path:
        """The queue file."""
        return self._db.path

    def _publish(self, topic: str, data: bytes, attributes: dict[str, str]) -> str:
        message_id = uuid.uuid4().hex

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO messages (id, topic, data, attributes, publish_time) VALUES (?, ?, ?, ?, ?)",
                (message_id, topic, data, json.dumps(attributes), time.time()),
            )

        self._db.run_write(insert)
        return message_id

    def pending(self, topic: str) -> list[tuple[bytes, dict[str, str]]]:
        """Messages of `topic` not yet acknowledged by every subscription, oldest first."""
        rows = (
            self._db.connection()
            .execute(
                "SELECT m.data, m.attributes FROM messages m WHERE m.topic = ? AND (m.routed = 0 OR EXISTS ("
                " SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.state IN ('ready', 'inflight')))"
                " ORDER BY m.publish_time",
                (topic,),
            )
            .fetchall()
        )
        return [(bytes(data), json.loads(attrs)) for data, attrs in rows]

    def close(self) -> None:
        self._db.close()
