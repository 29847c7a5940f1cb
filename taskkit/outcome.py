"""Outcome classification, in exactly one place, and its mapping to the push answer.

`classify` decides what an exception means for the task; `http_status` decides what Pub/Sub hears.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from taskkit.errors import LeaseLost, Reject, Retry, TimeLimitExceeded, WorkerShuttingDown
from taskkit.retrying import TRANSIENT_ERRORS
from taskkit.task import TaskOptions


class Verdict(Enum):
    """What a failed attempt means."""

    PERMANENT = "permanent"  # fail for good now
    TRANSIENT = "transient"  # another attempt may succeed
    STALE = "stale"  # this attempt lost its lease; the task belongs to another attempt now


@dataclass(frozen=True)
class Classified:
    """A failure's verdict, a short code for records and a human message."""

    verdict: Verdict
    code: str
    message: str
    delay_s: float | None = None


def classify(exc: BaseException, options: TaskOptions) -> Classified:
    """The verdict for an exception a task raised (or taskkit raised on its behalf)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, Reject):
        return Classified(Verdict.PERMANENT, exc.code, text)
    if isinstance(exc, Retry):
        return Classified(Verdict.TRANSIENT, "retry", text, exc.delay_s)
    if isinstance(exc, LeaseLost):
        return Classified(Verdict.STALE, "lease_lost", text)
    if isinstance(exc, TimeLimitExceeded):
        return Classified(Verdict.TRANSIENT, "time_limit", text)
    if isinstance(exc, WorkerShuttingDown):
        return Classified(Verdict.TRANSIENT, "shutdown", text)
    if options.permanent and isinstance(exc, options.permanent):
        code = getattr(exc, "code", None)
        return Classified(Verdict.PERMANENT, code if isinstance(code, str) else type(exc).__name__, text)
    if options.transient and isinstance(exc, options.transient):
        return Classified(Verdict.TRANSIENT, type(exc).__name__, text)
    if isinstance(exc, TRANSIENT_ERRORS):
        return Classified(Verdict.TRANSIENT, type(exc).__name__, text)
    # Unlisted errors are retried: a bug costs max_attempts runs, an unforeseen outage costs nothing.
    return Classified(Verdict.TRANSIENT, type(exc).__name__, text)


class Answer(Enum):
    """How a push delivery ended, as far as the broker is concerned."""

    DONE = "done"
    DUPLICATE = "duplicate"
    FAILED = "failed"  # recorded permanent failure (or kept undecodable message)
    RETRY = "retry"  # transient failure: redeliver after backoff
    BUSY = "busy"  # live lease elsewhere or backoff pending: not an attempt
    STALE = "stale"
    SHUTTING_DOWN = "shutting_down"
    UNAUTHORIZED = "unauthorized"


_STATUS = {
    Answer.DONE: 200,
    Answer.DUPLICATE: 200,
    Answer.FAILED: 200,
    Answer.RETRY: 503,
    Answer.BUSY: 409,
    Answer.STALE: 409,
    Answer.SHUTTING_DOWN: 503,
    Answer.UNAUTHORIZED: 401,
}


def http_status(answer: Answer) -> int:
    """The HTTP status that makes Pub/Sub ack (2xx) or redeliver (anything else)."""
    return _STATUS[answer]
