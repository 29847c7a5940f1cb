"""Logs in Cloud Logging's shape (JSON) and Error Reporting's (stack traces), and the retry preset."""

from __future__ import annotations

import json

import pytest
import structlog

from taskkit.errors import TransientBackendError
from taskkit.logging import bind_request_trace, configure_logging, trace_field
from taskkit.retrying import retry_transient


@pytest.fixture(autouse=True)
def restore_console_logging() -> object:
    yield
    configure_logging(json_output=False)


def json_lines(text: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_json_lines_carry_severity_message_task_and_trace(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_output=True, level="INFO")
    log = structlog.get_logger("t")
    trace = bind_request_trace("0af7651916cd43dd8448eb211c80319c/123;o=1", "proj")
    with trace, structlog.contextvars.bound_contextvars(task="render", task_id="render-j1", attempt=2):
        log.info("task.started", fence=3)
    [line] = json_lines(capsys.readouterr().err)
    assert line["severity"] == "INFO" and line["message"] == "task.started"
    assert (line["task"], line["task_id"], line["attempt"], line["fence"]) == ("render", "render-j1", 2, 3)
    assert line["logging.googleapis.com/trace"] == "projects/proj/traces/0af7651916cd43dd8448eb211c80319c"


def test_errors_carry_their_stack_trace_for_error_reporting(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_output=True)
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("t").exception("task.failed", code="x")
    [line] = json_lines(capsys.readouterr().err)
    assert line["severity"] == "ERROR"
    assert "Traceback" in line["stack_trace"] and "ValueError: boom" in line["stack_trace"]
    assert line["@type"].endswith("ReportedErrorEvent") and "ValueError: boom" in line["message"]


def test_trace_header_parsing() -> None:
    assert trace_field(None, "p") is None
    assert trace_field("abc/1;o=1", None) == "abc"
    assert trace_field("/1", "p") is None


def test_retry_transient_retries_then_reraises() -> None:
    calls = {"flaky": 0, "down": 0, "bug": 0}

    @retry_transient(attempts=3, initial_s=0.001, max_wait_s=0.01)
    def flaky() -> str:
        calls["flaky"] += 1
        if calls["flaky"] < 3:
            raise ConnectionError("reset")
        return "ok"

    @retry_transient(attempts=3, initial_s=0.001, max_wait_s=0.01)
    def down() -> None:
        calls["down"] += 1
        raise TransientBackendError("503")

    @retry_transient(attempts=3, initial_s=0.001, max_wait_s=0.01)
    def bug() -> None:
        calls["bug"] += 1
        raise KeyError("x")

    assert flaky() == "ok" and calls["flaky"] == 3
    with pytest.raises(TransientBackendError):
        down()
    with pytest.raises(KeyError):
        bug()
    assert (calls["down"], calls["bug"]) == (3, 1)
