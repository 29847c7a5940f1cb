"""The API's logs over real HTTP: one Cloud Logging access line per request with the request's trace,
unexpected errors as a 500 Problem plus one Error Reporting line, no credentials in any line, no second
access line from uvicorn; and the CORS origins from settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import cors_origins, create_app
from singer_tasks.settings import SingerSettings
from taskkit import Kit, Settings
from taskkit.logging import configure_logging
from taskkit.supervisor import free_port, wait_until_healthy
from tests.api.conftest import Client, song_bytes
from tests.infra.logfilter import cloud_run_resource, log_entry, matches
from tests.infra.tfmodel import load

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SECRET = "s3cr3t-do-not-log"
ERROR_TYPE = "type.googleapis.com/google.devtools.clouderrorreporting.v1beta1.ReportedErrorEvent"


@pytest.fixture(autouse=True)
def json_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """JSON lines, as on Cloud Run (create_app configures logging from the environment)."""
    monkeypatch.setenv("TASKKIT_LOG_FORMAT", "json")
    yield
    configure_logging(json_output=False)


@pytest.fixture
def project_kit(tmp_path: Path) -> Iterator[Kit]:
    """A local-family kit that names a project, so traces read projects/P/traces/T."""
    kit = Kit("logs", settings=Settings(backend="local", data_dir=tmp_path / "data", project="proj"))
    yield kit
    kit.close()


def with_failing_route(app: FastAPI) -> FastAPI:
    """The real app plus one route that fails the way a bug does (placed before the SPA's catch-all)."""

    @app.get("/v1/test-bug")
    def bug() -> None:
        raise RuntimeError("unexpected state 42")

    app.router.routes.insert(0, app.router.routes.pop())
    return app


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app on uvicorn with its default access log ON (as the embedded stack's supervisor serves it)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url + "/healthz", alive=thread.is_alive, timeout_s=30)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def access_lines(lines: list[dict[str, Any]], path: str) -> list[dict[str, Any]]:
    return [x for x in lines if x["message"] == "http.request" and x["httpRequest"]["requestUrl"] == path]


def test_one_access_line_per_request_with_trace_and_no_credentials(
    project_kit: Kit, capfd: pytest.CaptureFixture[str]
) -> None:
    app = create_app(project_kit, SingerSettings())
    with served(app) as url:
        capfd.readouterr()
        answer = httpx.get(
            f"{url}/v1/voices?ticket={SECRET}",
            headers={
                "Authorization": f"Bearer {SECRET}",
                "X-Cloud-Trace-Context": f"{TRACE}/1;o=1",
                "User-Agent": "log-test/1",
            },
        )
        missing = httpx.get(f"{url}/v1/no-such-route", headers={"traceparent": f"00-{'a' * 32}-{'b' * 16}-01"})
    out = capfd.readouterr()
    text = out.out + out.err
    assert answer.status_code == 200 and missing.status_code == 404
    assert SECRET not in text
    lines = json_lines(text)
    [line] = access_lines(lines, "/v1/voices")
    request = line["httpRequest"]
    assert (request["requestMethod"], request["status"], request["userAgent"]) == ("GET", 200, "log-test/1")
    assert request["remoteIp"] == "127.0.0.1" and request["latency"].endswith("s")
    assert int(request["responseSize"]) == len(answer.content)
    assert line["severity"] == "INFO" and line["time"]
    assert line["logging.googleapis.com/trace"] == f"projects/proj/traces/{TRACE}"
    [line404] = access_lines(lines, "/v1/no-such-route")
    assert line404["severity"] == "WARNING" and line404["httpRequest"]["status"] == 404
    assert line404["logging.googleapis.com/trace"] == f"projects/proj/traces/{'a' * 32}"
    # uvicorn's own access line ("GET /v1/voices?... 200") is off: one line per request, ours.
    assert not [x for x in text.splitlines() if "/v1/voices" in x and not x.startswith("{")]


def test_an_unexpected_exception_is_a_500_problem_and_one_error_report(
    project_kit: Kit, capfd: pytest.CaptureFixture[str]
) -> None:
    app = with_failing_route(create_app(project_kit, SingerSettings()))
    with served(app) as url:
        capfd.readouterr()
        answer = httpx.get(f"{url}/v1/test-bug", headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    out = capfd.readouterr()
    text = out.out + out.err
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error", "code": "internal"}
    lines = json_lines(text)
    [report] = [x for x in lines if x.get("@type") == ERROR_TYPE]
    assert report["severity"] == "ERROR"
    assert report["logging.googleapis.com/trace"] == f"projects/proj/traces/{TRACE}"
    assert "Traceback (most recent call last)" in report["message"]
    assert "RuntimeError: unexpected state 42" in report["message"] and report["stack_trace"] in report["message"]
    assert report["serviceContext"]["service"] == "api" and report["serviceContext"]["version"]
    assert report["context"]["httpRequest"]["url"] == "/v1/test-bug"
    assert report["context"]["httpRequest"]["method"] == "GET"
    assert report["context"]["httpRequest"]["responseStatusCode"] == 500
    [access] = access_lines(lines, "/v1/test-bug")
    assert access["httpRequest"]["status"] == 500 and access["severity"] == "ERROR"
    # Neither Starlette nor uvicorn printed the traceback again.
    assert text.count("RuntimeError: unexpected state 42") == 2  # the report's message and stack_trace


def await_access_line(capfd: pytest.CaptureFixture[str], path: str, timeout_s: float = 30) -> list[dict[str, Any]]:
    """The access lines for `path` from a live server: the middleware writes its line after the response
    has gone, so the client can hold the answer before the line is in the capture."""
    deadline = time.monotonic() + timeout_s
    seen: list[dict[str, Any]] = []
    while True:
        seen += access_lines(json_lines(capfd.readouterr().err), path)
        if seen or time.monotonic() > deadline:
            return seen
        time.sleep(0.05)


def test_created_job_access_line_feeds_the_jobs_created_metric(
    api: Any, client: Callable[[str], Client], capfd: pytest.CaptureFixture[str]
) -> None:
    # The `api` fixture built the app before this test's environment asked for JSON: ask again.
    configure_logging(json_output=True)
    alice = client("alice")
    score = alice.upload(song_bytes())
    capfd.readouterr()
    created = alice.job(score)
    assert created.status_code == 202, created.text
    [line] = await_access_line(capfd, "/v1/jobs")
    tf = load()
    metric = tf.resource("google_logging_metric", "jobs_created")
    entry = log_entry(line, cloud_run_resource("api"))
    assert matches(tf.resolve(metric["filter"]), entry)
    assert not matches(tf.resolve(metric["filter"]), log_entry(line, cloud_run_resource("worker")))


def test_cors_origins_come_from_settings(project_kit: Kit, tmp_path: Path) -> None:
    custom = "https://sing.example.com"
    app = create_app(project_kit, SingerSettings(cors_origins=(custom,)))
    http = TestClient(app)
    preflight = {"Access-Control-Request-Method": "POST"}
    allowed = http.options("/v1/jobs", headers={"Origin": custom, **preflight})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == custom
    refused = http.options("/v1/jobs", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in refused.headers
    # Unset: the project's Firebase Hosting origins on the gcp family, none on the local family.
    gcp = Kit("cors", settings=Settings(backend="gcp", project="p1"))
    assert cors_origins(gcp, SingerSettings()) == ["https://p1.web.app", "https://p1.firebaseapp.com"]
    assert cors_origins(project_kit, SingerSettings()) == []
    assert cors_origins(gcp, SingerSettings(cors_origins=(custom,))) == [custom]
