"""The document store on Firestore (google-cloud-firestore).

Transactions use the client's `@transactional` machinery: the function may run more than once (up to
`transaction_attempts` times on commit-time contention), and a commit-time `create` of an existing
document fails with AlreadyExists. Contention that outlasts those attempts becomes a
`TransientBackendError`; a transient failure outside the commit (a read, UNAVAILABLE, DEADLINE_EXCEEDED)
starts the whole transaction over with backoff, a few times, before it does too.

The change feed is Firestore's `on_snapshot` listeners; callbacks run on the listener's thread and
receive plain dicts.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

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
)
from taskkit.backends.gcp.translate import GOOGLE_ERRORS, google_errors, is_transient, translate
from taskkit.errors import TransientBackendError
from taskkit.retrying import exponential_backoff_s

T = TypeVar("T")
log = logging.getLogger(__name__)
_DIRECTIONS = {"asc": "ASCENDING", "desc": "DESCENDING"}


def field_path(dotted: str) -> str:
    """A dotted field name as a Firestore field path, each segment quoted when it needs to be.

    Queries refuse unquoted segments outside [A-Za-z_][A-Za-z0-9_]* (`render-type`), updates accept both.
    """
    return str(FieldPath(*dotted.split(".")).to_api_repr())


def _build_query(client: Any, query: Query) -> Any:
    # Firestore allows at most 30 values in an "in" filter; larger lists fail with InvalidArgument.
    ref: Any = client.collection(query.collection)
    for field, op, value in query.filters:
        ref = ref.where(filter=FieldFilter(field_path(field), op, list(value) if op == "in" else value))
    for field, direction in query.order_by:
        ref = ref.order_by(field_path(field), direction=_DIRECTIONS[direction])
    if query.limit is not None:
        ref = ref.limit(query.limit)
    return ref


# Firestore's TTL policies act only on timestamp values; taskkit writes expiry times as epoch seconds.
TTL_FIELD = "expireAt"


def to_store(data: Mapping[str, Any]) -> dict[str, Any]:
    """A document as Firestore keeps it: the TTL field as a timestamp."""
    out = dict(data)
    expiry = out.get(TTL_FIELD)
    if isinstance(expiry, int | float) and not isinstance(expiry, bool):
        out[TTL_FIELD] = datetime.fromtimestamp(expiry, UTC)
    return out


def from_store(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """A document as taskkit sees it: timestamps back to epoch seconds."""
    return {k: v.timestamp() if isinstance(v, datetime) else v for k, v in (data or {}).items()}


def _snapshot(doc: Any) -> Snapshot:
    return Snapshot(str(doc.reference.path), from_store(doc.to_dict()))


class FirestoreTransaction(Transaction):
    """One attempt of a Firestore transaction; writes are buffered by the client until commit."""

    def __init__(self, client: Any, transaction: Any) -> None:
        self._client = client
        self._tx = transaction

    def _ref(self, path: str) -> Any:
        return self._client.document(check_doc_path(path))

    def get(self, path: str) -> Document | None:
        """Read a document inside the transaction (None if absent)."""
        snap = self._ref(path).get(transaction=self._tx)
        return from_store(snap.to_dict()) if snap.exists else None

    def query(self, query: Query) -> list[Snapshot]:
        """Run a query inside the transaction."""
        return [_snapshot(doc) for doc in _build_query(self._client, query).get(transaction=self._tx)]

    def set(self, path: str, data: Mapping[str, Any]) -> None:
        """Write (replace) a document at commit."""
        self._tx.set(self._ref(path), to_store(data))

    def create(self, path: str, data: Mapping[str, Any]) -> None:
        """Create a document at commit; the commit fails with AlreadyExists if it exists."""
        self._tx.create(self._ref(path), to_store(data))

    def update(self, path: str, fields: Mapping[str, Any]) -> None:
        """Merge fields (dotted paths reach nested maps) at commit; the commit fails with NotFound if absent."""
        self._tx.update(self._ref(path), {field_path(k): v for k, v in to_store(fields).items()})

    def delete(self, path: str) -> None:
        """Delete a document at commit (no error if absent)."""
        self._tx.delete(self._ref(path))


class FirestoreWatch(Watch):
    """A Firestore snapshot listener."""

    def __init__(self, watch: Any) -> None:
        self._watch = watch

    def close(self) -> None:
        """Unsubscribe the listener."""
        self._watch.unsubscribe()


def _guarded(callback: Callable[[Any], None], what: str) -> Callable[[Any], None]:
    # An exception escaping into the listener thread would end the watch silently: log it instead.
    def call(value: Any) -> None:
        try:
            callback(value)
        except Exception:
            log.exception("%s callback failed", what)

    return call


class FirestoreDocumentStore(DocumentStore):
    """Documents in Firestore; paths map one to one onto Firestore document paths."""

    def __init__(
        self,
        client: Any,
        *,
        transaction_attempts: int = 10,
        transaction_deadline_s: float = 60.0,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 2.0,
    ) -> None:
        self._client = client
        self._attempts = max(1, transaction_attempts)
        self._deadline_s = transaction_deadline_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s

    def _get(self, path: str) -> Document | None:
        with google_errors(f"get {path}"):
            snap = self._client.document(path).get()
            return from_store(snap.to_dict()) if snap.exists else None

    def _create(self, path: str, data: Document) -> bool:
        with google_errors(f"create {path}"):
            try:
                self._client.document(path).create(to_store(data))
            except gexc.AlreadyExists:
                return False
            return True

    def _set(self, path: str, data: Document) -> None:
        with google_errors(f"set {path}"):
            self._client.document(path).set(to_store(data))

    def _update(self, path: str, fields: Document) -> None:
        # Firestore's update() reads dotted keys as paths into nested maps, as the interface does.
        with google_errors(f"update {path}"):
            self._client.document(path).update({field_path(k): v for k, v in to_store(fields).items()})

    def _delete(self, path: str) -> None:
        with google_errors(f"delete {path}"):
            self._client.document(path).delete()

    def _query(self, query: Query) -> list[Snapshot]:
        with google_errors(f"query {query.collection}"):
            return [_snapshot(doc) for doc in _build_query(self._client, query).stream()]

    def _transaction(self, fn: Callable[[Transaction], T], deadline_s: float | None) -> T:
        @firestore.transactional
        def attempt(tx: Any) -> T:
            return fn(FirestoreTransaction(self._client, tx))

        # Contention is retried until the deadline, not a fixed number of times: the emulator (and a busy
        # database) answers a contended commit only after a lock timeout of seconds, so on a loaded
        # machine a small fixed count gives up on writes that would have gone through.
        give_up_at = time.monotonic() + (self._deadline_s if deadline_s is None else max(0.0, deadline_s))
        rounds = 0
        while True:
            rounds += 1
            try:
                # The client reruns `fn` on a commit-time ABORTED itself, keeping the transaction's place
                # in line (retry_transaction), which resolves contention much faster than a fresh start.
                result: T = attempt(self._client.transaction(max_attempts=self._attempts))
                return result
            except ValueError as e:
                # The client wraps "ABORTED on every attempt" in a ValueError; anything else is the caller's.
                if not isinstance(e.__cause__, gexc.Aborted):
                    raise
                last: BaseException = e.__cause__
            except GOOGLE_ERRORS as e:
                # Failures of the caller's own function (LeaseLost, KeyError...) pass through untouched;
                # transient ones outside the commit (a read, begin) start the transaction over.
                if not is_transient(e):
                    raise translate(e, "transaction") from e
                last = e
            pause = random.uniform(0, exponential_backoff_s(rounds, self._backoff_initial_s, self._backoff_max_s))
            if time.monotonic() + pause >= give_up_at:
                raise TransientBackendError(
                    f"transaction still contended when its deadline passed ({rounds} rounds of "
                    f"{self._attempts} attempts): {last}"
                ) from last
            time.sleep(pause)

    def _watch_document(self, path: str, callback: DocCallback) -> Watch:
        guarded = _guarded(callback, f"watch {path}")

        def on_snapshot(docs: list[Any], _changes: Any, _read_time: Any) -> None:
            doc = docs[0] if docs else None
            guarded(from_store(doc.to_dict()) if doc is not None and doc.exists else None)

        with google_errors(f"watch {path}"):
            return FirestoreWatch(self._client.document(path).on_snapshot(on_snapshot))

    def _watch_query(self, query: Query, callback: QueryCallback) -> Watch:
        guarded = _guarded(callback, f"watch {query.collection}")

        def on_snapshot(docs: list[Any], _changes: Any, _read_time: Any) -> None:
            guarded([_snapshot(doc) for doc in docs])

        with google_errors(f"watch {query.collection}"):
            return FirestoreWatch(_build_query(self._client, query).on_snapshot(on_snapshot))

    def close(self) -> None:
        """Close the client's channels."""
        self._client.close()
