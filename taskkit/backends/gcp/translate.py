"""Map Google client-library failures onto taskkit's error hierarchy, in one place.

Retryable failures (contention, throttling, 5xx, deadlines, broken connections) become
`TransientBackendError`, so the push endpoint nacks and Pub/Sub retries; everything else becomes a
permanent `BackendError` (or `NotFound` / `AlreadyExists`).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from contextlib import contextmanager

import google.auth.exceptions
import requests
from google.api_core import exceptions as gexc

from taskkit.errors import AlreadyExists, BackendError, NotFound, TaskkitError, TransientBackendError

TRANSIENT_API_ERRORS: tuple[type[BaseException], ...] = (
    gexc.Aborted,
    gexc.DeadlineExceeded,
    gexc.ServiceUnavailable,
    gexc.InternalServerError,
    gexc.BadGateway,
    gexc.GatewayTimeout,
    gexc.TooManyRequests,  # also ResourceExhausted (429)
    gexc.Unknown,
    gexc.RetryError,
)
TRANSIENT_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    google.auth.exceptions.TransportError,
    requests.ConnectionError,
    requests.Timeout,
    concurrent.futures.TimeoutError,
    ConnectionError,
    TimeoutError,
)

# Everything a Google client call may raise that is not the caller's own exception.
GOOGLE_ERRORS: tuple[type[BaseException], ...] = (
    gexc.GoogleAPIError,
    google.auth.exceptions.GoogleAuthError,
    *TRANSIENT_TRANSPORT_ERRORS,
)


def is_transient(error: BaseException) -> bool:
    """Whether `error` (a Google client failure) may succeed when retried."""
    if isinstance(error, TransientBackendError):
        return True
    return isinstance(error, TRANSIENT_API_ERRORS + TRANSIENT_TRANSPORT_ERRORS)


def translate(error: BaseException, action: str) -> TaskkitError:
    """The taskkit error for a Google client failure met while doing `action`."""
    if isinstance(error, TaskkitError):
        return error
    detail = f"{action}: {type(error).__name__}: {error}"
    if isinstance(error, gexc.NotFound):
        return NotFound(detail)
    if isinstance(error, gexc.AlreadyExists | gexc.PreconditionFailed):
        return AlreadyExists(detail)
    if is_transient(error):
        return TransientBackendError(detail)
    return BackendError(detail)


@contextmanager
def google_errors(action: str) -> Iterator[None]:
    """Re-raise any Google client failure inside the block as its taskkit error (`from` the cause)."""
    try:
        yield
    except TaskkitError:
        raise
    except Exception as e:
        raise translate(e, action) from e
