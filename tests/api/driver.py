"""Runs a kit's queued messages in-process, in publish order, until none is left (no HTTP, no timers).

Tests of the render job use it to follow a job through its chord deterministically; the push path
over HTTP and the dispatcher are tested on their own.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from taskkit import Kit
from taskkit.envelope import encode_envelope
from taskkit.executor import Executor


class InlineDriver:
    """Delivers every published message once to an Executor (redelivering what it nacks)."""

    def __init__(self, kit: Kit, executor: Executor | None = None) -> None:
        self.kit = kit
        self.executor = executor or Executor(kit)
        self.settled: set[str] = set()
        self.answers: Counter[str] = Counter()
        self.delivered: list[str] = []

    def _messages(self) -> list[tuple[str, bytes, dict[str, str]]]:
        self.kit.broker  # noqa: B018 - creates the queue file
        with sqlite3.connect(self.kit.settings.data_dir / "broker.sqlite3") as conn:
            rows = conn.execute("SELECT id, data, attributes FROM messages ORDER BY publish_time, rowid").fetchall()
        return [(i, bytes(d), json.loads(a)) for i, d, a in rows]

    def drain(self, max_rounds: int = 20, *, limit: int | None = None) -> Counter[str]:
        """Deliver until every message is acked (or `limit` deliveries made); returns the answers by kind."""
        for _ in range(max_rounds):
            fresh = [m for m in self._messages() if m[0] not in self.settled]
            if not fresh:
                return self.answers
            for message_id, data, attributes in fresh:
                if limit is not None and len(self.delivered) >= limit:
                    return self.answers
                body = encode_envelope(
                    data, attributes, message_id=message_id, subscription="s", publish_time=0, delivery_attempt=1
                )
                answer = self.executor.handle_push(body).answer.value
                self.answers[answer] += 1
                self.delivered.append(attributes.get("id", ""))
                if answer in ("done", "duplicate", "failed"):
                    self.settled.add(message_id)
        raise AssertionError(f"messages still unsettled after {max_rounds} rounds: {self.answers}")
