"""structlog setup: Cloud Logging JSON in production, readable lines on a laptop.

JSON lines carry `severity` and `message` (Cloud Logging's special fields), the bound task fields,
and `logging.googleapis.com/trace` from X-Cloud-Trace-Context (or W3C traceparent). Errors carry
`stack_trace` with the formatted traceback and Error Reporting's `@type`, so Cloud Error Reporting
picks them up; a caller may add `serviceContext` and `context` (api/logs.py does, for requests).

Access logs never carry query strings (`scrub_access_log`): a URL may hold a short-lived credential
(an event-stream ticket, a signed blob URL's signature).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

from taskkit.settings import Settings

_SEVERITY = {"debug": "DEBUG", "info": "INFO", "warning": "WARNING", "error": "ERROR", "critical": "CRITICAL"}
_ERROR_EVENT_TYPE = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"


def _cloud_fields(_: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    level = str(event.pop("level", method)).lower()
    event["severity"] = _SEVERITY.get(level, "DEFAULT")
    event["message"] = event.pop("event", "")
    trace = event.pop("trace", None)
    if trace:
        event["logging.googleapis.com/trace"] = trace
    stack = event.pop("exception", None)
    if stack:
        event["stack_trace"] = stack
        event["@type"] = _ERROR_EVENT_TYPE
        # Error Reporting reads the trace from the message when no @type-aware parser runs.
        event["message"] = f"{event['message']}\n{stack}"
    return event


def wants_json(settings: Settings) -> bool:
    """JSON when asked (TASKKIT_LOG_FORMAT=json) or when running on Cloud Run (K_SERVICE is set)."""
    fmt = settings.log_format.lower()
    return fmt == "json" or (fmt != "console" and bool(settings.cloud_run_service))


def configure_logging(
    *, json_output: bool | None = None, level: str | None = None, settings: Settings | None = None
) -> None:
    """Configure structlog and the stdlib root logger once, at process start (settings: from the environment)."""
    settings = settings or Settings.from_env()
    use_json = wants_json(settings) if json_output is None else json_output
    level_name = (level or settings.log_level).upper()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
    ]
    renderer: list[Any]
    if use_json:
        renderer = [structlog.processors.format_exc_info, _cloud_fields, structlog.processors.JSONRenderer()]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=False)]
    structlog.configure(
        processors=[*shared, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level_name]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level_name, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    # One line per dispatched push is noise at INFO; the dispatcher logs its own outcomes.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelNamesMapping()[level_name]))
    scrub_access_log()


class DropQueryStrings(logging.Filter):
    """Removes the query string from uvicorn's access-log lines (their third argument is the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0] + "?[redacted]", *args[3:])
        return True


def scrub_access_log(logger_name: str = "uvicorn.access") -> None:
    """Make the access logger drop query strings (idempotent)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, DropQueryStrings) for f in logger.filters):
        logger.addFilter(DropQueryStrings())


def trace_id(cloud_trace: str | None, traceparent: str | None = None) -> str | None:
    """The request's trace id: from X-Cloud-Trace-Context (`T/SPAN;o=1`), else W3C `traceparent`
    (`00-T-SPAN-01`), else None. Cloud Run sends both; they name the same trace."""
    if cloud_trace:
        candidate = cloud_trace.split("/", 1)[0].strip()
        if candidate:
            return candidate
    if traceparent:
        parts = traceparent.strip().split("-")
        if len(parts) == 4 and len(parts[1]) == 32 and parts[1] != "0" * 32:
            return parts[1]
    return None


def trace_field(header: str | None, project: str | None, traceparent: str | None = None) -> str | None:
    """`projects/P/traces/T` (Cloud Logging's trace field) from the request's trace headers, or None."""
    trace = trace_id(header, traceparent)
    if trace is None:
        return None
    return f"projects/{project}/traces/{trace}" if project else trace


@contextmanager
def bind_request_trace(header: str | None, project: str | None, traceparent: str | None = None) -> Iterator[None]:
    """Bind the request's trace to every log line written while handling it."""
    trace = trace_field(header, project, traceparent)
    if trace is None:
        yield
        return
    with structlog.contextvars.bound_contextvars(trace=trace):
        yield
