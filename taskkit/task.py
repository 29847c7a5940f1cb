"""Tasks: a decorated function plus its options, enqueued by name with JSON keyword arguments."""

from __future__ import annotations

import difflib
import inspect
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from taskkit.errors import ConfigError, EnqueueError
from taskkit.message import TaskMessage, check_task_id
from taskkit.retrying import exponential_backoff_s

if TYPE_CHECKING:
    from taskkit.app import Kit
    from taskkit.canvas import Signature
    from taskkit.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Failure:
    """What a failure hook learns about a task that failed for good."""

    task: str
    task_id: str
    kwargs: dict[str, Any]
    code: str
    message: str
    attempts: int


FailureHook = Callable[[Failure], None]


@dataclass(frozen=True)
class TaskOptions:
    """Per-task options; every field can be passed to `@kit.task(...)`.

    permanent / transient: exception classes that fail the task for good / ask for another attempt.
    Anything unlisted is transient (retried up to max_attempts), except taskkit's own `Reject`.
    on_failure: called once when the task fails for good; it must be idempotent, because a crash
    between the hook and the failure record reruns it.
    """

    name: str
    topic: str | None = None
    max_attempts: int = 5
    min_backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    jitter: float = 0.2
    permanent: tuple[type[BaseException], ...] = ()
    transient: tuple[type[BaseException], ...] = ()
    time_limit_s: float = 300.0
    lease_ttl_s: float | None = None
    on_failure: FailureHook | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"task {self.name!r}: max_attempts must be at least 1")
        if self.min_backoff_s < 0 or self.max_backoff_s < self.min_backoff_s:
            raise ConfigError(f"task {self.name!r}: need 0 <= min_backoff_s <= max_backoff_s")
        if not 0 <= self.jitter <= 1:
            raise ConfigError(f"task {self.name!r}: jitter is a fraction between 0 and 1")
        if self.time_limit_s <= 0:
            raise ConfigError(f"task {self.name!r}: time_limit_s must be positive")
        for group in (self.permanent, self.transient):
            if not all(isinstance(c, type) and issubclass(c, BaseException) for c in group):
                raise ConfigError(f"task {self.name!r}: permanent/transient take a tuple of exception classes")

    def backoff_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """The task's own wait before attempt `attempt + 1`, exponential with jitter."""
        base = exponential_backoff_s(attempt, self.min_backoff_s, self.max_backoff_s)
        spread = base * self.jitter
        return max(0.0, float(base + (rng or random).uniform(-spread, spread)))

    def lease_ttl(self, settings: Settings) -> float:
        """The lease's time to live: the task's own, else TASKKIT_LEASE_TTL_S; a heartbeat renews it every third."""
        return self.lease_ttl_s if self.lease_ttl_s is not None else settings.lease_ttl_s


OPTION_NAMES = frozenset(f.name for f in fields(TaskOptions))


def build_options(fn: Callable[..., Any], options: dict[str, Any]) -> TaskOptions:
    """Validate `@kit.task` keyword options; unknown names fail with a suggestion."""
    for key in options:
        if key not in OPTION_NAMES:
            close = difflib.get_close_matches(key, OPTION_NAMES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown task option {key!r} on {fn.__qualname__}.{hint} "
                f"Known options: {', '.join(sorted(OPTION_NAMES))}"
            )
    for key in ("permanent", "transient"):
        if key in options and isinstance(options[key], type):
            options[key] = (options[key],)
        elif key in options:
            options[key] = tuple(options[key])
    options.setdefault("name", f"{fn.__module__}.{fn.__qualname__}")
    params = inspect.signature(fn).parameters.values()
    if any(p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY) for p in params):
        raise ConfigError(
            f"task {options['name']!r}: messages carry keyword arguments only; "
            "remove *args and positional-only parameters"
        )
    return TaskOptions(**options)


class Task(Generic[P, R]):
    """A registered task. Calling it runs the function here; `delay`/`apply_async` enqueue it."""

    def __init__(self, kit: Kit, fn: Callable[P, R], options: TaskOptions) -> None:
        self.kit = kit
        self.fn = fn
        self.options = options
        self._signature = inspect.signature(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", options.name)
        self.__wrapped__ = fn

    @property
    def name(self) -> str:
        """The task's registered name (what messages carry)."""
        return self.options.name

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    def bind(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Arguments as the keyword dict a message carries; EnqueueError if they do not fit the signature."""
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as e:
            raise EnqueueError(f"bad arguments for task {self.name!r}: {e}") from e
        out: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            if self._signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                out.update(value)
            else:
                out[name] = value
        return out

    def delay(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """Enqueue with these arguments; returns the task id."""
        return self.apply_async(kwargs=self.bind(*args, **kwargs))

    def apply_async(
        self,
        kwargs: dict[str, Any] | None = None,
        *,
        task_id: str | None = None,
        topic: str | None = None,
        parent: dict[str, Any] | None = None,
        trace: str | None = None,
    ) -> str:
        """Enqueue with keyword arguments; `task_id` is the idempotency key (random if omitted)."""
        arguments = self.bind(**(kwargs or {}))
        message = TaskMessage(self.name, task_id or uuid.uuid4().hex, arguments, parent, trace)
        return self.kit.publish(message, topic=topic or self.options.topic)

    def s(self, *args: P.args, **kwargs: P.kwargs) -> Signature:
        """A signature (for chains, groups and chords) with a fresh task id."""
        return self.signature(self.bind(*args, **kwargs))

    def signature(self, kwargs: dict[str, Any], *, task_id: str | None = None) -> Signature:
        """A signature with explicit keyword arguments and, optionally, a deterministic task id."""
        from taskkit.canvas import Signature

        arguments = self.bind(**kwargs)
        return Signature(self.name, arguments, check_task_id(task_id or uuid.uuid4().hex), self.options.topic)
