"""The one error hierarchy of taskkit.

Failures derive from `TaskkitError`. Control-flow signals a task raises on purpose (`Retry`, `Reject`)
derive from `TaskControl` instead, so that `except TaskkitError` never swallows them by accident.
"""

from __future__ import annotations


class TaskkitError(Exception):
    """Base of every failure taskkit raises."""


class ConfigError(TaskkitError):
    """Raised when settings or a task declaration are invalid; the message says what to change."""


class EnqueueError(TaskkitError):
    """Raised at enqueue time when a task message cannot be built (bad or non-JSON arguments)."""


class DecodeError(TaskkitError):
    """Raised when a push envelope or a task message cannot be decoded; keeps the raw bytes."""

    def __init__(self, reason: str, raw: bytes = b"") -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


class BackendError(TaskkitError):
    """Raised when a backend operation fails."""


class TransientBackendError(BackendError):
    """Raised when a backend fails in a way that may succeed on retry (network, contention, 5xx)."""


class NotFound(BackendError):
    """Raised when a document or blob does not exist."""


class AlreadyExists(BackendError):
    """Raised when a create-only write meets an existing document or blob."""


class LeaseLost(TaskkitError):
    """Raised by a fenced write when the task no longer holds its lease with the same fence.

    The attempt that gets it is stale: another worker took the task over; it must stop writing.
    """


class TimeLimitExceeded(TaskkitError):
    """Raised by `TaskContext.check_time()` once a task has used its time limit (transient)."""


class WorkerShuttingDown(TaskkitError):
    """Raised by `TaskContext.check_time()` after SIGTERM, so the attempt stops and is redelivered."""


class TaskControl(Exception):
    """Base of the exceptions a task raises to steer its own outcome."""


class Retry(TaskControl):
    """Raised by a task to ask for another attempt later (counts as a transient failure)."""

    def __init__(self, reason: str = "retry requested", *, delay_s: float | None = None) -> None:
        super().__init__(reason)
        self.delay_s = delay_s


class Reject(TaskControl):
    """Raised by a task to fail permanently (bad input): recorded failed, failure hook run, acked."""

    def __init__(self, reason: str, *, code: str = "rejected") -> None:
        super().__init__(reason)
        self.code = code


class PushAuthError(TaskkitError):
    """Raised when a push request's OIDC token is missing or invalid (answered 401/403, never run)."""
