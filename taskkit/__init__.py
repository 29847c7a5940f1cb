"""taskkit: a small Celery-style task framework for Pub/Sub push, with embedded and Google Cloud backends.

kit = Kit("myapp")

@kit.task(max_attempts=5, time_limit_s=300, permanent=(ValueError,))
def resize(image_id: str) -> None:
    ctx = current()          # lease, remaining time, fenced transactions
    ...

resize.delay(image_id="abc")
"""

from taskkit.app import Kit
from taskkit.canvas import ChordProgress, Signature, chain, chord, chord_progress, group, member_result
from taskkit.context import TaskContext, current, current_or_none
from taskkit.errors import (
    AlreadyExists,
    BackendError,
    ConfigError,
    DecodeError,
    EnqueueError,
    LeaseLost,
    NotFound,
    Reject,
    Retry,
    TaskkitError,
    TimeLimitExceeded,
    TransientBackendError,
)
from taskkit.settings import Settings
from taskkit.task import Failure, Task, TaskOptions

__all__ = [
    "AlreadyExists",
    "BackendError",
    "ChordProgress",
    "ConfigError",
    "DecodeError",
    "EnqueueError",
    "Failure",
    "Kit",
    "LeaseLost",
    "NotFound",
    "Reject",
    "Retry",
    "Settings",
    "Signature",
    "Task",
    "TaskContext",
    "TaskOptions",
    "TaskkitError",
    "TimeLimitExceeded",
    "TransientBackendError",
    "chain",
    "chord",
    "chord_progress",
    "current",
    "current_or_none",
    "group",
    "member_result",
]
