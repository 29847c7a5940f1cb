"""Log-based metrics, alert policies, the api uptime check and the dashboard (terraform/monitoring.tf).

Each log-based metric must count lines the code really writes: taskkit's lines are captured from real
tasks run by taskkit's executor with JSON logging on; the render tasks' lines are read from their
source (their `log.*` calls, event names and fields); the api's access line is built by api/logs.py
(tests/api/test_logs.py checks it over HTTP against the same filter). Every filter, label extractor
and value extractor is then evaluated on those lines (tests/infra/logfilter.py).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from api.logs import ACCESS_EVENT, http_request
from singer_tasks.kit import RENDER_TASK
from taskkit import Kit, Reject, Settings
from taskkit.envelope import encode_envelope
from taskkit.executor import Executor
from taskkit.logging import configure_logging
from taskkit.message import TaskMessage
from tests.infra.logfilter import cloud_run_resource, extract, log_entry, matches
from tests.infra.tfmodel import REPO, TERRAFORM_DIR, Terraform, block

Line = dict[str, Any]

PHRASE_TASK = "singer.render_phrase"  # singer_tasks/render/tasks.py (importing it would load torch)
BUILTIN_METRICS = {
    "pubsub.googleapis.com/subscription/num_undelivered_messages",
    "pubsub.googleapis.com/subscription/oldest_unacked_message_age",
    "pubsub.googleapis.com/subscription/dead_letter_message_count",
    "monitoring.googleapis.com/uptime_check/check_passed",
}


def _push(message: TaskMessage, message_id: str) -> bytes:
    return encode_envelope(
        message.encode(),
        message.attributes(),
        message_id=message_id,
        subscription="projects/p/subscriptions/render-jobs-push",
        publish_time=0.0,
        delivery_attempt=1,
    )


@contextlib.contextmanager
def _json_logs() -> Iterator[io.StringIO]:
    """Everything logged inside, as the JSON lines Cloud Run would receive."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stderr(out):
            configure_logging(json_output=True, level="INFO")
            yield out
    finally:
        configure_logging(json_output=False)


@pytest.fixture(scope="module")
def worker_lines(tmp_path_factory: pytest.TempPathFactory) -> list[Line]:
    """Lines taskkit writes for a success, a transient failure (retried), a permanent failure and an
    undecodable push: run for real by the executor on the local family."""
    data_dir: Path = tmp_path_factory.mktemp("monitoring") / "data"
    kit = Kit("monitoring", settings=Settings(backend="local", data_dir=data_dir, min_backoff_s=0.01))

    @kit.task(name=PHRASE_TASK, max_attempts=3, time_limit_s=10)
    def phrase() -> int:
        return 1

    @kit.task(name="flaky", max_attempts=3, time_limit_s=10)
    def flaky() -> None:
        raise ConnectionError("backend reset")

    @kit.task(name=RENDER_TASK, max_attempts=3, time_limit_s=10)
    def bad() -> None:
        raise Reject("not a score", code="bad_input")

    executor = Executor(kit)
    try:
        with _json_logs() as out:
            executor.handle_push(_push(TaskMessage(PHRASE_TASK, "j:0"), "m1"))
            executor.handle_push(_push(TaskMessage("flaky", "f1"), "m2"))
            executor.handle_push(_push(TaskMessage(RENDER_TASK, "render-j"), "m3"))
            executor.handle_push(b"not an envelope")
    finally:
        kit.close()
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def _render_task_lines() -> list[Line]:
    """One line per `log.<level>("job....", field=...)` call of the render tasks, read from the source:
    the event name, its keyword fields, and the task name taskkit binds to every line of a task."""
    tree = ast.parse((REPO / "singer_tasks" / "render" / "tasks.py").read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "log" and node.args):
            continue
        event = node.args[0]
        if isinstance(event, ast.Constant) and isinstance(event.value, str):
            fields = {kw.arg: 1.5 for kw in node.keywords if kw.arg}
            lines.append({"task": "singer.assemble", **fields, "severity": "INFO", "message": event.value})
    return lines


@pytest.fixture(scope="module")
def entries(worker_lines: list[Line]) -> list[dict[str, Any]]:
    """Log entries of the worker (real taskkit lines, the render tasks' lines) and of the api."""
    worker = [log_entry(line, cloud_run_resource("worker")) for line in worker_lines + _render_task_lines()]
    scope = {"type": "http", "method": "POST", "path": "/v1/jobs", "headers": [], "client": ("203.0.113.9", 1)}
    request = http_request(scope, status=_job_created_status(), latency_s=0.01, response_size=120)
    access: Line = {"severity": "INFO", "message": ACCESS_EVENT, "httpRequest": request}
    return [*worker, log_entry(access, cloud_run_resource("api"))]


def _events(filter_text: str) -> set[str]:
    named = re.search(r'jsonPayload\.message=\(?((?:"[a-z_.]+"(?: OR )?)+)\)?', filter_text)
    assert named, f"filter names no event: {filter_text}"
    return set(re.findall(r'"([a-z_.]+)"', named.group(1)))


def test_the_executor_really_wrote_the_events(worker_lines: list[Line]) -> None:
    written = {line["message"].split("\n")[0] for line in worker_lines}
    assert {"task.started", "task.succeeded", "task.retry", "task.failed_for_good", "message.kept"} <= written


def test_each_log_metric_selects_exactly_the_events_it_names(tf: Terraform, entries: list[dict[str, Any]]) -> None:
    metrics = tf.resources["google_logging_metric"]
    assert len(metrics) >= 9
    for name, metric in metrics.items():
        text = tf.resolve(metric["filter"])
        selected = [e for e in entries if matches(text, e)]
        events = {e["jsonPayload"]["message"] for e in selected}
        assert events == _events(text), f"{name}: selects {sorted(events)} for a filter naming {_events(text)}"
        # Only the intended service's lines: the api's access line never feeds a worker metric and back.
        services = {e["resource"]["labels"]["service_name"] for e in selected}
        assert len(services) == 1, f"{name} mixes services {services}"


def test_extractors_read_fields_the_lines_carry(tf: Terraform, entries: list[dict[str, Any]]) -> None:
    for name, metric in tf.resources["google_logging_metric"].items():
        selected = [e for e in entries if matches(tf.resolve(metric["filter"]), e)]
        extractors = dict(metric.get("label_extractors", {}))
        if "value_extractor" in metric:
            extractors["(value)"] = metric["value_extractor"]
        declared = {label["key"] for label in block(metric, "metric_descriptor").get("labels", [])}
        assert declared == set(extractors) - {"(value)"}, f"{name}: labels {declared} vs extractors {extractors}"
        for label, expression in extractors.items():
            values = [extract(expression, e) for e in selected]
            assert any(v is not None for v in values), f"{name}.{label}: {expression} is absent from every line"
        if "value_extractor" in metric:
            assert block(metric, "metric_descriptor")["value_type"] == "DISTRIBUTION"
            assert all(isinstance(extract(metric["value_extractor"], e), int | float) for e in selected), name


def test_phrase_render_time_comes_from_the_phrase_task(tf: Terraform, entries: list[dict[str, Any]]) -> None:
    metric = tf.resource("google_logging_metric", "task_seconds")
    selected = [e for e in entries if matches(tf.resolve(metric["filter"]), e)]
    phrase = [e for e in selected if e["jsonPayload"]["task"] == PHRASE_TASK]
    assert phrase and all(extract(metric["value_extractor"], e) >= 0 for e in phrase)


def _job_created_status() -> int:
    """The status POST /v1/jobs answers when it creates a job (its route's declared status)."""
    from api.routes.jobs import router

    routes = [r for r in router.routes if isinstance(r, APIRoute) and r.path == "/v1/jobs"]
    [route] = [r for r in routes if "POST" in (r.methods or set())]
    return int(route.status_code or 200)


def test_jobs_created_counts_only_created_jobs(tf: Terraform) -> None:
    text = tf.resolve(tf.resource("google_logging_metric", "jobs_created")["filter"])
    created = _job_created_status()
    base = {"type": "http", "method": "POST", "path": "/v1/jobs", "headers": []}
    api = cloud_run_resource("api")

    def entry(status: int, **scope: Any) -> dict[str, Any]:
        request = http_request({**base, **scope}, status=status, latency_s=0.1, response_size=10)
        return log_entry({"message": ACCESS_EVENT, "httpRequest": request}, api)

    assert matches(text, entry(created))
    assert not matches(text, entry(402)) and not matches(text, entry(created, method="GET"))
    assert not matches(text, entry(created, path="/v1/uploads"))


def _prometheus_metrics(query: str) -> set[str]:
    return set(re.findall(r"logging_googleapis_com:user_([a-z0-9_]+?)(?:_sum|_count|_bucket)?\b", query))


def test_alerts_reference_defined_metrics(tf: Terraform) -> None:
    names = {m["name"] for m in tf.resources["google_logging_metric"].values()}
    policies = tf.resources["google_monitoring_alert_policy"]
    for name, policy in policies.items():
        for condition in policy["conditions"]:
            if "condition_prometheus_query_language" in condition:
                query = block(condition, "condition_prometheus_query_language")["query"]
                used = _prometheus_metrics(query)
                assert used and used <= names, f"{name}: {used - names} are not defined log metrics"
    retry = block(block(policies["retry_rate"], "conditions"), "condition_prometheus_query_language")["query"]
    assert _prometheus_metrics(retry) == {"taskkit_task_retried", "taskkit_task_started"}
    assert "/ sum(rate(" in retry and retry.endswith("> ${var.retry_rate_threshold}")
    assert 0 < tf.default("retry_rate_threshold") < 1


def test_uptime_check_probes_the_api_health_route(tf: Terraform, tmp_path: Path) -> None:
    check = tf.resource("google_monitoring_uptime_check_config", "api")
    http = block(check, "http_check")
    assert (http["path"], http["use_ssl"], http["port"]) == ("/healthz", True, 443)
    resource = block(check, "monitored_resource")
    assert resource["type"] == "uptime_url"
    assert resource["labels"]["host"] == '${trimprefix(google_cloud_run_v2_service.api.uri, "https://")}'
    # The content matcher must match what the api really answers.
    from fastapi.testclient import TestClient

    from api.main import create_app

    kit = Kit("uptime", settings=Settings(backend="local", data_dir=tmp_path / "data"))
    try:
        answer = TestClient(create_app(kit)).get(http["path"])
    finally:
        kit.close()
        configure_logging(json_output=False)
    assert answer.status_code == 200
    assert block(check, "content_matchers")["content"] in answer.text

    down = block(block(tf.resource("google_monitoring_alert_policy", "api_down"), "conditions"), "condition_threshold")
    assert "uptime_check/check_passed" in down["filter"]
    assert "${google_monitoring_uptime_check_config.api.uptime_check_id}" in down["filter"]
    assert block(down, "aggregations")["cross_series_reducer"] == "REDUCE_COUNT_FALSE"


def _dashboard() -> dict[str, Any]:
    return dict(json.loads((TERRAFORM_DIR / "dashboards" / "operations.json").read_text(encoding="utf-8")))


def test_dashboard_charts_only_metrics_that_exist(tf: Terraform) -> None:
    resource = tf.resource("google_monitoring_dashboard", "operations")
    assert resource["dashboard_json"] == '${file("${path.module}/dashboards/operations.json")}'
    names = {m["name"] for m in tf.resources["google_logging_metric"].values()}
    defined = {f"logging.googleapis.com/user/{n}" for n in names} | BUILTIN_METRICS
    charted: set[str] = set()
    titles = []
    for tile in _dashboard()["mosaicLayout"]["tiles"]:
        titles.append(tile["widget"]["title"])
        for dataset in tile["widget"]["xyChart"]["dataSets"]:
            query = dataset["timeSeriesQuery"]
            if "prometheusQuery" in query:
                charted |= {f"logging.googleapis.com/user/{m}" for m in _prometheus_metrics(query["prometheusQuery"])}
            else:
                charted |= set(re.findall(r'metric\.type="([^"]+)"', query["timeSeriesFilter"]["filter"]))
    assert charted <= defined, f"the dashboard charts undefined metrics {sorted(charted - defined)}"
    # What operators asked for: jobs by status, render time per phrase, backlog, dead letters, credits.
    wanted_metrics = ("singer_jobs_created", "singer_jobs_ended", "taskkit_task_seconds", "singer_sung_seconds")
    for wanted in (*wanted_metrics, "singer_credits_charged"):
        assert f"logging.googleapis.com/user/{wanted}" in charted
    assert {m for m in BUILTIN_METRICS if m.startswith("pubsub")} <= charted
    text = " ".join(titles).lower()
    for topic in ("jobs by status", "per phrase", "backlog", "dead letters", "credits"):
        assert topic in text
