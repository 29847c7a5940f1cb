"""The embedded push dispatcher: what Pub/Sub's push subscriptions do, on one machine.

It routes each published message to the subscriptions of its topic, POSTs the real wrapped push
envelope to a free endpoint (each endpoint takes one request at a time, like a Cloud Run instance
with concurrency 1), and treats the answer as Pub/Sub does: 102/200/201/202/204 ack; anything else,
a connection failure or the ack deadline passing is a nack, redelivered after exponential backoff.
After `max_delivery_attempts` deliveries the message goes to the dead-letter topic with Pub/Sub's
`CloudPubSubDeadLetterSource*` attributes. Nothing is deleted here: the supervisor's housekeeping
prunes ended deliveries after the retention period (cleanup.py).

An endpoint that refuses the connection (its worker died and is being restarted) is not a delivery:
Cloud Run holds a request while it starts an instance, so Pub/Sub never sees that case. The message
is offered again shortly without counting an attempt or growing its backoff, and the endpoint is left
alone for a moment; otherwise a worker's restart would push a task's redelivery minutes away.

A nack that says when to come back (`Retry-After`: a worker answers so when another owner's lease on
the task runs out then) is offered again at that time if it is sooner than the backoff: after a crash
the task runs as soon as the dead owner's lease expires, not at the next step of an exponential
backoff that had no better information. Pub/Sub cannot do this per message; there the subscription's
retry policy decides.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import structlog

from taskkit.backends.local.broker import open_queue
from taskkit.envelope import encode_envelope
from taskkit.retrying import exponential_backoff_s

ACK_STATUSES = frozenset({102, 200, 201, 202, 204})
ENDPOINT_DOWN = "endpoint down"  # the outcome recorded for a refused connection
ENDPOINT_RETRY_S = 0.5  # how long a refusing endpoint is left alone, and when its message is offered again
WORKER_SECRET_HEADER = "x-taskkit-worker-secret"
log = structlog.get_logger("taskkit.dispatcher")


@dataclass(frozen=True)
class Subscription:
    """A push subscription: topic -> endpoints, with Pub/Sub's delivery policy."""

    name: str
    topic: str
    endpoints: tuple[str, ...]
    ack_deadline_s: float = 600.0
    min_backoff_s: float = 10.0
    max_backoff_s: float = 600.0
    max_delivery_attempts: int | None = None
    dead_letter_topic: str | None = None
    # The embedded stack's worker secret, sent with every push (see taskkit.worker, WORKER_SECRET_HEADER).
    secret: str | None = field(default=None, repr=False)

    def backoff_s(self, delivery_attempt: int) -> float:
        """Wait before the next delivery after `delivery_attempt` failed ones."""
        return exponential_backoff_s(delivery_attempt, self.min_backoff_s, self.max_backoff_s)


@dataclass(frozen=True)
class _Claim:
    message_id: str
    subscription: Subscription
    endpoint: str
    attempt: int
    topic: str
    data: bytes
    attributes: dict[str, str]
    publish_time: float


class LocalDispatcher:
    """Pushes queued messages to their subscriptions' endpoints, in background threads."""

    def __init__(self, queue_path: Path, subscriptions: list[Subscription], *, poll_interval_s: float = 0.02) -> None:
        names = [s.name for s in subscriptions]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate subscription names in {names}")
        self._db = open_queue(queue_path)
        self._subscriptions = {s.name: s for s in subscriptions}
        self._poll_interval_s = poll_interval_s
        self._busy: set[str] = set()
        self._down_until: dict[str, float] = {}  # endpoint -> when to try it again (guarded by _busy_lock)
        self._busy_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        endpoints = {e for s in subscriptions for e in s.endpoints}
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(endpoints)), thread_name_prefix="taskkit-push")
        self._client = httpx.Client()

    def start(self) -> None:
        """Recover deliveries a dead dispatcher left in flight, then dispatch in a background thread."""
        self._db.run_write(
            lambda c: c.execute("UPDATE deliveries SET state = 'ready' WHERE state = 'inflight'").rowcount
        )
        self._thread = threading.Thread(target=self._loop, name="taskkit-dispatcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop dispatching; requests in flight are abandoned and redelivered after a restart."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def counts(self) -> dict[str, int]:
        """Deliveries by state (for tests, the CLI and benchmarks)."""
        rows = self._db.connection().execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
        return {state: int(n) for state, n in rows}

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._route()
                claimed = self._claim_ready()
            except sqlite3.Error as e:  # a busy file: try again on the next tick
                log.warning("dispatcher.db_error", error=str(e))
                claimed = []
            for claim in claimed:
                self._pool.submit(self._deliver, claim)
            if not claimed:
                self._wake.wait(self._poll_interval_s)
                self._wake.clear()

    def _route(self) -> None:
        def route(conn: sqlite3.Connection) -> None:
            rows = conn.execute("SELECT id, topic FROM messages WHERE routed = 0 ORDER BY publish_time").fetchall()
            now = time.time()
            for message_id, topic in rows:
                subs = [s for s in self._subscriptions.values() if s.topic == topic]
                targets = [(s.name, "ready") for s in subs] or [("", "unrouted")]
                for name, state in targets:
                    conn.execute(
                        "INSERT OR IGNORE INTO deliveries (message_id, subscription, state, next_attempt_at, "
                        "updated_at) VALUES (?, ?, ?, ?, ?)",
                        (message_id, name, state, now, now),
                    )
                conn.execute("UPDATE messages SET routed = 1 WHERE id = ?", (message_id,))

        if self._db.connection().execute("SELECT 1 FROM messages WHERE routed = 0 LIMIT 1").fetchone():
            self._db.run_write(route)

    def _free_endpoints(self, sub: Subscription) -> list[str]:
        now = time.monotonic()
        with self._busy_lock:
            return [e for e in sub.endpoints if e not in self._busy and self._down_until.get(e, 0.0) <= now]

    def _claim_ready(self) -> list[_Claim]:
        claims: list[_Claim] = []
        now = time.time()
        for sub in self._subscriptions.values():
            free = self._free_endpoints(sub)
            if not free:
                continue

            def claim(conn: sqlite3.Connection, sub: Subscription = sub, free: list[str] = free) -> list[_Claim]:
                rows = conn.execute(
                    "SELECT d.message_id, d.delivery_attempt, m.topic, m.data, m.attributes, m.publish_time "
                    "FROM deliveries d JOIN messages m ON m.id = d.message_id WHERE d.subscription = ? "
                    "AND d.state = 'ready' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at LIMIT ?",
                    (sub.name, now, len(free)),
                ).fetchall()
                out = []
                for (message_id, attempt, topic, data, attrs, published), endpoint in zip(rows, free, strict=False):
                    conn.execute(
                        "UPDATE deliveries SET state = 'inflight', delivery_attempt = ?, updated_at = ? "
                        "WHERE message_id = ? AND subscription = ?",
                        (attempt + 1, now, message_id, sub.name),
                    )
                    out.append(
                        _Claim(message_id, sub, endpoint, attempt + 1, topic, bytes(data), json.loads(attrs), published)
                    )
                return out

            if (
                self._db.connection()
                .execute(
                    "SELECT 1 FROM deliveries WHERE subscription = ? AND state = 'ready' "
                    "AND next_attempt_at <= ? LIMIT 1",
                    (sub.name, now),
                )
                .fetchone()
            ):
                got = self._db.run_write(claim)
                with self._busy_lock:
                    self._busy.update(c.endpoint for c in got)
                claims.extend(got)
        return claims

    def _deliver(self, claim: _Claim) -> None:
        sub = claim.subscription
        body = encode_envelope(
            claim.data,
            claim.attributes,
            message_id=claim.message_id,
            subscription=f"projects/local/subscriptions/{sub.name}",
            publish_time=claim.publish_time,
            delivery_attempt=claim.attempt if sub.max_delivery_attempts else None,
        )
        headers = {"content-type": "application/json"}
        if sub.secret:
            headers[WORKER_SECRET_HEADER] = sub.secret
        retry_after_s: float | None = None
        try:
            response = self._client.post(
                claim.endpoint,
                content=body,
                headers=headers,
                timeout=sub.ack_deadline_s,
            )
            outcome = str(response.status_code)
            acked = response.status_code in ACK_STATUSES
            retry_after_s = None if acked else _retry_after_s(response.headers.get("retry-after"))
        except httpx.ConnectError:
            outcome, acked = ENDPOINT_DOWN, False
            with self._busy_lock:
                self._down_until[claim.endpoint] = time.monotonic() + ENDPOINT_RETRY_S
        except httpx.TimeoutException:
            outcome, acked = "ack deadline exceeded", False
        except httpx.HTTPError as e:
            outcome, acked = f"{type(e).__name__}: {e}", False
        finally:
            with self._busy_lock:
                self._busy.discard(claim.endpoint)
        try:
            self._settle(claim, acked, outcome, retry_after_s)
        except sqlite3.Error as e:  # left inflight; recovered as ready on the next start
            log.error("dispatcher.settle_failed", message_id=claim.message_id, error=str(e))
        self._wake.set()

    def _settle(self, claim: _Claim, acked: bool, outcome: str, retry_after_s: float | None = None) -> None:
        sub, now = claim.subscription, time.time()
        delay_s = sub.backoff_s(claim.attempt)
        if retry_after_s is not None:
            delay_s = min(delay_s, retry_after_s)

        def settle(conn: sqlite3.Connection) -> None:
            key = (claim.message_id, sub.name)
            if acked:
                conn.execute(
                    "UPDATE deliveries SET state = 'acked', last_outcome = ?, updated_at = ? "
                    "WHERE message_id = ? AND subscription = ?",
                    (outcome, now, *key),
                )
                return
            if outcome == ENDPOINT_DOWN:  # not a delivery: offered again soon, the attempt not counted
                conn.execute(
                    "UPDATE deliveries SET state = 'ready', delivery_attempt = ?, next_attempt_at = ?, "
                    "last_outcome = ?, updated_at = ? WHERE message_id = ? AND subscription = ?",
                    (claim.attempt - 1, now + ENDPOINT_RETRY_S, outcome, now, *key),
                )
                return
            exhausted = sub.max_delivery_attempts is not None and claim.attempt >= sub.max_delivery_attempts
            if not exhausted:
                conn.execute(
                    "UPDATE deliveries SET state = 'ready', next_attempt_at = ?, last_outcome = ?, updated_at = ? "
                    "WHERE message_id = ? AND subscription = ?",
                    (now + delay_s, outcome, now, *key),
                )
                return
            state = "dead_lettered" if sub.dead_letter_topic else "exhausted"
            conn.execute(
                "UPDATE deliveries SET state = ?, last_outcome = ?, updated_at = ? "
                "WHERE message_id = ? AND subscription = ?",
                (state, outcome, now, *key),
            )
            if sub.dead_letter_topic:
                attributes = dict(claim.attributes)
                attributes.update(
                    {
                        "CloudPubSubDeadLetterSourceDeliveryCount": str(claim.attempt),
                        "CloudPubSubDeadLetterSourceSubscription": sub.name,
                        "CloudPubSubDeadLetterSourceSubscriptionProject": "local",
                        "CloudPubSubDeadLetterSourceTopicPublishTime": datetime.fromtimestamp(
                            claim.publish_time, UTC
                        ).isoformat(),
                    }
                )
                conn.execute(
                    "INSERT INTO messages (id, topic, data, attributes, publish_time) VALUES (?, ?, ?, ?, ?)",
                    (
                        f"{claim.message_id}-{sub.name}-dl",
                        sub.dead_letter_topic,
                        claim.data,
                        json.dumps(attributes),
                        now,
                    ),
                )

        self._db.run_write(settle)
        log.debug("dispatcher.delivered", message_id=claim.message_id, attempt=claim.attempt, outcome=outcome)


def _retry_after_s(header: str | None) -> float | None:
    """Seconds from a `Retry-After` header in seconds (an HTTP date or garbage: None, the backoff decides)."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None
