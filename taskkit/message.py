"""The task message: what travels in a Pub/Sub message's `data`, as UTF-8 JSON.

`{"task": name, "id": task id, "kwargs": {...}, "parent": {...} | null, "trace": str | null}`;
the attributes repeat `task` and `id` so that routing and dedupe need no decode.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from taskkit.errors import DecodeError, EnqueueError

TASK_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,400}$")


def check_task_id(task_id: str) -> str:
    """Return `task_id` if usable as an idempotency key (it becomes a document id)."""
    if not isinstance(task_id, str) or not TASK_ID_PATTERN.match(task_id) or task_id in (".", ".."):
        raise EnqueueError(f"invalid task id {task_id!r}: use 1-400 characters from letters, digits and _ . : @ + -")
    return task_id


def to_json(value: Any, what: str) -> str:
    """Serialise `value` to strict JSON or raise EnqueueError saying which argument is the problem."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise EnqueueError(f"{what} must be JSON-serialisable (str, int, float, bool, None, list, dict): {e}") from e


@dataclass(frozen=True)
class TaskMessage:
    """One task invocation."""

    task: str
    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, Any] | None = None
    trace: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The message as a JSON-ready dict."""
        return {
            "task": self.task,
            "id": self.id,
            "kwargs": self.kwargs,
            "parent": self.parent,
            "trace": self.trace,
        }

    def encode(self) -> bytes:
        """UTF-8 JSON bytes for the broker; EnqueueError if an argument is not JSON."""
        check_task_id(self.id)
        for name, value in self.kwargs.items():
            to_json(value, f"argument {name!r} of task {self.task!r}")
        return to_json(self.to_dict(), f"message of task {self.task!r}").encode()

    def attributes(self) -> dict[str, str]:
        """Broker attributes that repeat the routing fields."""
        return {"task": self.task, "id": self.id}

    @classmethod
    def from_dict(cls, data: Any, raw: bytes = b"") -> TaskMessage:
        """Validate a decoded JSON object; DecodeError names what is wrong."""
        if not isinstance(data, dict):
            raise DecodeError("task message is not a JSON object", raw)
        task, task_id = data.get("task"), data.get("id")
        if not isinstance(task, str) or not task:
            raise DecodeError("task message has no 'task' name", raw)
        if not isinstance(task_id, str) or not TASK_ID_PATTERN.match(task_id):
            raise DecodeError("task message has no valid 'id'", raw)
        kwargs = data.get("kwargs", {})
        if kwargs is None:
            kwargs = {}
        if not isinstance(kwargs, dict):
            raise DecodeError("task message 'kwargs' is not an object", raw)
        parent = data.get("parent")
        if parent is not None and not isinstance(parent, dict):
            raise DecodeError("task message 'parent' is not an object", raw)
        trace = data.get("trace")
        return cls(
            task=task,
            id=task_id,
            kwargs=kwargs,
            parent=parent,
            trace=trace if isinstance(trace, str) else None,
        )

    @classmethod
    def decode(cls, raw: bytes) -> TaskMessage:
        """Parse message bytes; every failure becomes DecodeError carrying the raw bytes."""
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise DecodeError(f"task message is not UTF-8 JSON: {e}", raw) from e
        return cls.from_dict(data, raw)
