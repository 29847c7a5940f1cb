"""tenacity presets for retrying transient calls inside a task (a flaky dependency, a contended write).

Use it for calls whose failure should not cost a whole task attempt:

    @retry_transient()
    def fetch_voice(...): ...

What counts as transient is the same as in outcome classification: taskkit's TransientBackendError,
ConnectionError and TimeoutError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import tenacity

from taskkit.errors import TransientBackendError

F = TypeVar("F", bound=Callable[..., Any])
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientBackendError, ConnectionError, TimeoutError)


def exponential_backoff_s(attempt: int, min_s: float, max_s: float) -> float:
    """The wait after failed attempt `attempt` (1-based): min_s doubling per attempt, capped at max_s.

    The one backoff curve of taskkit: task retries, the local push dispatcher (as Pub/Sub's retry
    policy), contended transactions and the redelivery span the timing checks add up.
    """
    return float(min(max_s, min_s * 2 ** max(0, attempt - 1)))


def retry_transient(*, attempts: int = 5, initial_s: float = 0.2, max_wait_s: float = 5.0) -> Callable[[F], F]:
    """Retry on transient errors with jittered exponential backoff; re-raise the last error."""
    retry = tenacity.retry(
        retry=tenacity.retry_if_exception_type(TRANSIENT_ERRORS),
        wait=tenacity.wait_random_exponential(multiplier=initial_s, max=max_wait_s),
        stop=tenacity.stop_after_attempt(attempts),
        reraise=True,
    )

    def decorate(fn: F) -> F:
        wrapped: F = retry(fn)  # type: ignore[assignment]  # tenacity keeps the signature
        return wrapped

    return decorate
