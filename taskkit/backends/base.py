"""The three backend interfaces: document store, broker and blob store.

Each public method validates and normalises its arguments once, here; a backend implements only the
small underscore-prefixed core. Everything above these interfaces (leases, chords, job records,
credit ledgers) is written once and runs unchanged on every backend family.

Documents are JSON-compatible dicts addressed by slash paths (`"jobs/abc"`, `"users/u1"`); a path
has an even number of segments, the collection is everything before the last one. Timestamps are
float epoch seconds. A top-level `expireAt` field says when a record may be deleted: a family with
TTL policies stores it as its native timestamp (Firestore TTL ignores numbers) and reads it back as
epoch seconds, so code above the interface never sees the difference.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from taskkit.errors import BackendError

T = TypeVar("T")
Document = dict[str, Any]
FilterOp = Literal["==", "!=", "<", "<=", ">", ">=", "in"]
Filter = tuple[str, FilterOp, Any]
Order = tuple[str, Literal["asc", "desc"]]

_SEGMENT = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,500}$")
FILTER_OPS: frozenset[str] = frozenset({"==", "!=", "<", "<=", ">", ">=", "in"})


def check_doc_path(path: str) -> str:
    """Return `path` if it names a document (collection/id pairs); raise BackendError otherwise."""
    parts = path.split("/")
    if len(parts) % 2 or not all(_SEGMENT.match(p) for p in parts) or ".." in parts:
        raise BackendError(f"invalid document path {path!r}: expected 'collection/id[/collection/id...]'")
    return path


def check_collection(collection: str) -> str:
    """Return `collection` if it names a collection (odd number of segments)."""
    parts = collection.split("/")
    if len(parts) % 2 == 0 or not all(_SEGMENT.match(p) for p in parts):
        raise BackendError(f"invalid collection path {collection!r}")
    return collection


def collection_of(path: str) -> str:
    """The collection a document path lies in."""
    return path.rsplit("/", 1)[0]


@dataclass(frozen=True)
class Snapshot:
    """A document read from a query or a watch: its path and its data."""

    path: str
    data: Document

    @property
    def id(self) -> str:
        """The document's id (the last path segment)."""
        return self.path.rsplit("/", 1)[1]


@dataclass(frozen=True)
class Query:
    """A collection query: equality/range filters, ordering and a limit."""

    collection: str
    filters: tuple[Filter, ...] = ()
    order_by: tuple[Order, ...] = ()
    limit: int | None = None

    def __post_init__(self) -> None:
        check_collection(self.collection)
        for _, op, value in self.filters:
            if op not in FILTER_OPS:
                raise BackendError(f"unsupported filter operator {op!r}; use one of {sorted(FILTER_OPS)}")
            if op == "in" and not isinstance(value, list | tuple):
                raise BackendError("an 'in' filter needs a list of values")
        if self.limit is not None and self.limit < 1:
            raise BackendError("limit must be at least 1")


class Transaction(ABC):
    """A read-then-write transaction. All reads come before writes; writes apply at commit.

    The function given to `DocumentStore.transaction` may run more than once (contention), so it must
    have no side effects other than through this object.
    """

    @abstractmethod
    def get(self, path: str) -> Document | None:
        """Read a document inside the transaction (None if absent)."""

    @abstractmethod
    def query(self, query: Query) -> list[Snapshot]:
        """Run a query inside the transaction."""

    @abstractmethod
    def set(self, path: str, data: Mapping[str, Any]) -> None:
        """Write (replace) a document at commit."""

    @abstractmethod
    def create(self, path: str, data: Mapping[str, Any]) -> None:
        """Create a document at commit; the commit fails with AlreadyExists if it exists."""

    @abstractmethod
    def update(self, path: str, fields: Mapping[str, Any]) -> None:
        """Merge fields (dotted paths address nested fields) at commit; NotFound if absent."""

    @abstractmethod
    def delete(self, path: str) -> None:
        """Delete a document at commit (no error if absent)."""


class Watch(ABC):
    """A live subscription to a document or a query; `close()` stops the callbacks."""

    @abstractmethod
    def close(self) -> None:
        """Stop delivering changes."""


DocCallback = Callable[[Document | None], None]
QueryCallback = Callable[[list[Snapshot]], None]


class DocumentStore(ABC):
    """A document database with transactions and a change feed (SQLite locally, Firestore on GCP)."""

    def get(self, path: str) -> Document | None:
        """The document at `path`, or None."""
        return self._get(check_doc_path(path))

    def create(self, path: str, data: Mapping[str, Any]) -> bool:
        """Create the document if absent, atomically. Returns False if it already existed."""
        return self._create(check_doc_path(path), dict(data))

    def set(self, path: str, data: Mapping[str, Any]) -> None:
        """Write (replace) the document."""
        self._set(check_doc_path(path), dict(data))

    def update(self, path: str, fields: Mapping[str, Any]) -> None:
        """Merge fields into an existing document (dotted names reach nested maps); NotFound if absent."""
        self._update(check_doc_path(path), dict(fields))

    def delete(self, path: str) -> None:
        """Delete the document; deleting an absent document is not an error."""
        self._delete(check_doc_path(path))

    def query(
        self,
        collection: str,
        filters: Sequence[Filter] = (),
        order_by: Sequence[Order] = (),
        limit: int | None = None,
    ) -> list[Snapshot]:
        """Documents of `collection` matching every filter, ordered, up to `limit`."""
        return self._query(Query(collection, tuple(filters), tuple(order_by), limit))

    def transaction(self, fn: Callable[[Transaction], T], *, deadline_s: float | None = None) -> T:
        """Run `fn` in a transaction, retried on contention; returns what `fn` returns.

        Contention is retried, with jittered backoff, for as long as `deadline_s` seconds allow (None:
        the store's own deadline); what is still contended then raises TransientBackendError, so the
        caller retries or surfaces it: an update is never silently lost.
        """
        return self._transaction(fn, deadline_s)

    def watch_document(self, path: str, callback: DocCallback) -> Watch:
        """Call `callback(data or None)` now and after each change of the document."""
        return self._watch_document(check_doc_path(path), callback)

    def watch_query(self, query: Query, callback: QueryCallback) -> Watch:
        """Call `callback(snapshots)` now and after each change of the query's result."""
        return self._watch_query(query, callback)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    @abstractmethod
    def _get(self, path: str) -> Document | None: ...

    @abstractmethod
    def _create(self, path: str, data: Document) -> bool: ...

    @abstractmethod
    def _set(self, path: str, data: Document) -> None: ...

    @abstractmethod
    def _update(self, path: str, fields: Document) -> None: ...

    @abstractmethod
    def _delete(self, path: str) -> None: ...

    @abstractmethod
    def _query(self, query: Query) -> list[Snapshot]: ...

    @abstractmethod
    def _transaction(self, fn: Callable[[Transaction], T], deadline_s: float | None) -> T: ...

    @abstractmethod
    def _watch_document(self, path: str, callback: DocCallback) -> Watch: ...

    @abstractmethod
    def _watch_query(self, query: Query, callback: QueryCallback) -> Watch: ...


class Broker(ABC):
    """Publishes messages to topics (a durable SQLite queue locally, Pub/Sub on GCP)."""

    def publish(self, topic: str, data: bytes, attributes: Mapping[str, str] | None = None) -> str:
        """Publish one message; returns the broker's message id. Failures raise, never vanish."""
        attrs = dict(attributes or {})
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in attrs.items()):
            raise BackendError("message attributes must be strings")
        return self._publish(topic, bytes(data), attrs)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release connections."""

    @abstractmethod
    def _publish(self, topic: str, data: bytes, attributes: dict[str, str]) -> str: ...


_BLOB_KEY = re.compile(r"^[A-Za-z0-9_.\-=+@:][A-Za-z0-9_.\-=+@:/]{0,1000}$")
SignMethod = Literal["GET", "PUT"]


def check_blob_key(key: str) -> str:
    """Return `key` if it is a safe object name (no '..' segments, no leading slash)."""
    if not _BLOB_KEY.match(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise BackendError(f"invalid blob key {key!r}")
    return key


class BlobStore(ABC):
    """Stores objects by key (a folder locally, Cloud Storage on GCP) and signs URLs for clients."""

    def put(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        if_absent: bool = False,
    ) -> None:
        """Store `data` at `key`; with `if_absent`, raise AlreadyExists instead of overwriting."""
        self._put(check_blob_key(key), bytes(data), content_type, if_absent)

    def get(self, key: str) -> bytes:
        """The object's bytes; NotFound if absent."""
        return self._get(check_blob_key(key))

    def exists(self, key: str) -> bool:
        """Whether an object is stored at `key`."""
        return self._exists(check_blob_key(key))

    def delete(self, key: str) -> None:
        """Delete the object; deleting an absent object is not an error."""
        self._delete(check_blob_key(key))

    def list(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix`, sorted."""
        if prefix:
            check_blob_key(prefix.rstrip("/") or "x")
        return sorted(self._list(prefix))

    def signed_url(
        self,
        key: str,
        *,
        method: SignMethod = "GET",
        expires_s: int = 900,
        content_type: str | None = None,
        max_bytes: int | None = None,
    ) -> str:
        """A URL that lets its holder GET or PUT this one object until it expires.

        For PUT, `content_type` binds the Content-Type header and `max_bytes` the largest body.
        """
        if method not in ("GET", "PUT"):
            raise BackendError(f"cannot sign method {method!r}; use GET or PUT")
        if not 1 <= expires_s <= 7 * 24 * 3600:
            raise BackendError("expires_s must be between 1 s and 7 days")
        return self._signed_url(check_blob_key(key), method, expires_s, content_type, max_bytes)

    @abstractmethod
    def _put(self, key: str, data: bytes, content_type: str, if_absent: bool) -> None: ...

    @abstractmethod
    def _get(self, key: str) -> bytes: ...

    @abstractmethod
    def _exists(self, key: str) -> bool: ...

    @abstractmethod
    def _delete(self, key: str) -> None: ...

    @abstractmethod
    def _list(self, prefix: str) -> Iterable[str]: ...

    @abstractmethod
    def _signed_url(
        self, key: str, method: SignMethod, expires_s: int, content_type: str | None, max_bytes: int | None
    ) -> str: ...
