"""`Kit`: settings, the task registry and the three backends, built lazily from configuration."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from taskkit.backends import build_blob_store, build_broker, build_document_store
from taskkit.backends.base import BlobStore, Broker, DocumentStore
from taskkit.errors import ConfigError, EnqueueError
from taskkit.lease import LeaseManager
from taskkit.message import TaskMessage
from taskkit.retrying import exponential_backoff_s
from taskkit.settings import Settings
from taskkit.task import Task, build_options

P = ParamSpec("P")
R = TypeVar("R")
Reconciler = Callable[["Kit"], int]


class Kit:
    """An application's tasks and the backends they run on.

    Nothing connects at construction: backends are built from settings on first use, and the
    settings come from the environment unless given.
    """

    def __init__(self, name: str = "taskkit", *, settings: Settings | None = None) -> None:
        self.name = name
        self._settings = settings
        self.registry: dict[str, Task[Any, Any]] = {}
        self.reconcilers: dict[str, Reconciler] = {}
        self.warmups: list[Callable[[Kit], None]] = []
        self._lock = threading.RLock()
        self._documents: DocumentStore | None = None
        self._broker: Broker | None = None
        self._blobs: BlobStore | None = None

    # -- configuration ------------------------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """The settings (read from the environment on first use unless configured)."""
        with self._lock:
            if self._settings is None:
                self._settings = Settings.from_env()
            return self._settings

    def configure(self, settings: Settings) -> None:
        """Replace the settings; backends are rebuilt on next use."""
        with self._lock:
            self.close()
            self._settings = settings

    @property
    def documents(self) -> DocumentStore:
        """The document store."""
        with self._lock:
            if self._documents is None:
                self._documents = build_document_store(self.settings)
            return self._documents

    @property
    def broker(self) -> Broker:
        """The broker (publisher)."""
        with self._lock:
            if self._broker is None:
                self._broker = build_broker(self.settings)
            return self._broker

    @property
    def blobs(self) -> BlobStore:
        """The blob store."""
        with self._lock:
            if self._blobs is None:
                self._blobs = build_blob_store(self.settings)
            return self._blobs

    @property
    def leases(self) -> LeaseManager:
        """Lease transitions on this kit's document store."""
        return LeaseManager(self.documents, retention_s=self.settings.record_retention_s)

    def close(self) -> None:
        """Release the backends' connections."""
        with self._lock:
            for backend in (self._documents, self._broker):
                if backend is not None:
                    backend.close()
            self._documents = self._broker = None
            self._blobs = None

    # -- declaration --------------------------------------------------------------------------------
    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...

    @overload
    def task(self, fn: None = None, /, **options: Any) -> Callable[[Callable[P, R]], Task[P, R]]: ...

    def task(
        self, fn: Callable[P, R] | None = None, /, **options: Any
    ) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
        """Register a function as a task: `@kit.task` or `@kit.task(name=..., max_attempts=...)`."""

        def register(func: Callable[P, R]) -> Task[P, R]:
            task = Task(self, func, build_options(func, dict(options)))
            if task.name in self.registry:
                raise ConfigError(
                    f"a task named {task.name!r} is already registered (by "
                    f"{self.registry[task.name].fn.__qualname__}); give one of them another name=..."
                )
            self.registry[task.name] = task
            return task

        return register(fn) if fn is not None else register

    def reconciler(self, fn: Reconciler) -> Reconciler:
        """Register a sweep step: `fn(kit)` republishes this app's stale work, returns how many."""
        self.reconcilers[f"{fn.__module__}.{fn.__qualname__}"] = fn
        return fn

    def on_worker_start(self, fn: Callable[[Kit], None]) -> Callable[[Kit], None]:
        """Register a warm-up: `fn(kit)` runs once on a background thread when a worker process starts
        (load models, open connections), so the first task does not pay for it. A warm-up that raises
        is logged and the worker serves anyway: tasks then pay the cost themselves."""
        self.warmups.append(fn)
        return fn

    def topics(self) -> list[str]:
        """Every topic this kit's tasks are sent to."""
        return sorted({t.options.topic or self.settings.default_topic for t in self.registry.values()})

    # -- enqueue ------------------------------------------------------------------------------------
    def publish(self, message: TaskMessage, *, topic: str | None = None) -> str:
        """Send a built message; returns its task id. EnqueueError for a bad message."""
        data = message.encode()
        task = self.registry.get(message.task)
        target = topic or (task.options.topic if task else None) or self.settings.default_topic
        self.broker.publish(target, data, message.attributes())
        return message.id

    def send_task(
        self,
        name: str,
        kwargs: dict[str, Any] | None = None,
        *,
        task_id: str | None = None,
        topic: str | None = None,
        parent: dict[str, Any] | None = None,
    ) -> str:
        """Enqueue a task by name, for callers that must not import its module (returns the task id)."""
        if not isinstance(name, str) or not name:
            raise EnqueueError("send_task needs a task name")
        if name in self.registry:
            return self.registry[name].apply_async(kwargs, task_id=task_id, topic=topic, parent=parent)
        return self.publish(TaskMessage(name, task_id or uuid.uuid4().hex, dict(kwargs or {}), parent), topic=topic)

    # -- start-up checks ----------------------------------------------------------------------------
    def check_timing(self) -> None:
        """Refuse task options that would let the broker redeliver a task that is still running."""
        s = self.settings
        problems = []
        for task in self.registry.values():
            o = task.options
            slack = max(s.deadline_margin_s, s.grace_s)
            if o.time_limit_s + slack > s.ack_deadline_s:
                problems.append(
                    f"task {o.name!r}: time_limit_s={o.time_limit_s:g} + {slack:g} s margin exceeds the ack deadline "
                    f"({s.ack_deadline_s} s); the broker would redeliver it while it still runs. Lower time_limit_s "
                    "or split the work (the ack deadline is at most 600 s)"
                )
            if o.lease_ttl(s) < MIN_LEASE_TTL_S:
                problems.append(
                    f"task {o.name!r}: lease_ttl_s={o.lease_ttl(s):g} is too short for its heartbeat (renewed every "
                    f"third of it); use at least {MIN_LEASE_TTL_S:g} s"
                )
            if s.max_delivery_attempts < 2 * o.max_attempts:
                problems.append(
                    f"task {o.name!r}: max_attempts={o.max_attempts} needs max_delivery_attempts >= "
                    f"{2 * o.max_attempts} (it is {s.max_delivery_attempts}); deliveries that meet a live lease "
                    "also count, so the subscription must allow well more deliveries than attempts"
                )
            span = redelivery_span_s(s)
            if span < o.lease_ttl(s):
                problems.append(
                    f"task {o.name!r}: the subscription stops redelivering after {span:g} s "
                    f"({s.max_delivery_attempts} deliveries, backoff {s.min_backoff_s:g}..{s.max_backoff_s:g} s), "
                    f"before a dead worker's lease ({o.lease_ttl(s):g} s) expires; raise the backoff or "
                    "max_delivery_attempts"
                )
        if problems:
            raise ConfigError("timing configuration refused:\n- " + "\n- ".join(problems))


# A heartbeat renews a lease every third of its TTL; below this a busy machine could miss renewals.
MIN_LEASE_TTL_S = 1.0


def redelivery_span_s(settings: Settings) -> float:
    """How long the subscription keeps redelivering a nacked message before dead-lettering it."""
    return sum(
        exponential_backoff_s(i, settings.min_backoff_s, settings.max_backoff_s)
        for i in range(1, settings.max_delivery_attempts)
    )
