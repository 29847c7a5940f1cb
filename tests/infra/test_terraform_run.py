"""Cloud Run services: sizing, scaling, timing, ingress, invokers, environment, image ownership."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.tfmodel import Terraform, block, duration_s, dynamic_blocks

RUN = "google_cloud_run_v2_service"
RUN_IAM = "google_cloud_run_v2_service_iam_member"
WORKERS = ("worker", "worker_gpu")


def _template(tf: Terraform, service: str) -> dict[str, Any]:
    return block(tf.resource(RUN, service), "template")


def _env_local(tf: Terraform, service: str) -> str:
    container = block(_template(tf, service), "containers")
    (env,) = dynamic_blocks(container, "env")
    return str(env["for_each"])


@pytest.mark.parametrize("service", WORKERS)
def test_worker_runs_one_request_at_a_time_and_scales_to_zero(tf: Terraform, service: str) -> None:
    template = _template(tf, service)
    concurrency = template["max_instance_request_concurrency"]
    if service == "worker":  # one render at a time unless worker_concurrency says otherwise
        assert concurrency == "${var.worker_concurrency}" and tf.resolve(concurrency) == 1
    else:
        assert concurrency == 1
    scaling = block(template, "scaling")
    assert scaling["min_instance_count"] == 0
    assert str(scaling["max_instance_count"]).startswith("${var.")


@pytest.mark.parametrize("service", WORKERS)
def test_worker_timeout_is_the_ack_deadline(tf: Terraform, service: str) -> None:
    timeout = _template(tf, service)["timeout"]
    push = tf.resource("google_pubsub_subscription", "gpu_push" if service == "worker_gpu" else "render_push")
    # The same variable, not two numbers that happen to agree today.
    assert timeout == "${var.ack_deadline_s}s"
    assert push["ack_deadline_seconds"] == "${var.ack_deadline_s}"
    assert duration_s(tf.resolve(timeout)) == 600


@pytest.mark.parametrize("service", WORKERS)
def test_worker_is_internal_and_accepts_its_push_audience(tf: Terraform, service: str) -> None:
    body = tf.resource(RUN, service)
    assert body["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    audience = "${local.gpu_push_audience}" if service == "worker_gpu" else "${local.push_audience}"
    assert body["custom_audiences"] == [audience]
    assert _template(tf, service)["service_account"] == "${google_service_account.worker.email}"


def test_push_audience_is_the_workers_push_url(tf: Terraform) -> None:
    assert tf.locals["push_audience"] == "${local.worker_base_url_deterministic}/_taskkit/push"
    base = tf.locals["worker_base_url_deterministic"]
    assert base == "https://worker-${data.google_project.this.number}.${var.region}.run.app"


def test_worker_sizing_fits_the_models(tf: Terraform) -> None:
    container = block(_template(tf, "worker"), "containers")
    limits = block(container, "resources")["limits"]
    cpu = float(tf.resolve(limits["cpu"]))
    memory = str(tf.resolve(limits["memory"]))
    assert cpu >= 2
    assert memory.endswith("Gi") and float(memory[:-2]) >= 4


def test_gpu_worker_has_a_gpu_and_always_on_cpu(tf: Terraform) -> None:
    template = _template(tf, "worker_gpu")
    assert block(template, "node_selector")["accelerator"] == "${var.gpu_type}"
    resources = block(block(template, "containers"), "resources")
    assert resources["limits"]["nvidia.com/gpu"] == "1"
    assert resources["cpu_idle"] is False


def test_api_is_sized_small_and_public_through_one_binding(tf: Terraform) -> None:
    api = tf.resource(RUN, "api")
    assert api["ingress"] == "INGRESS_TRAFFIC_ALL"
    assert block(_template(tf, "api"), "scaling")["min_instance_count"] == 0
    assert tf.resolve(_template(tf, "api")["max_instance_request_concurrency"]) > 1
    public = [
        (name, body)
        for name, body in tf.resources[RUN_IAM].items()
        if body["member"] in ("allUsers", "allAuthenticatedUsers")
    ]
    assert [name for name, _ in public] == ["api_public"]
    (_, binding) = public[0]
    assert binding["name"] == "${google_cloud_run_v2_service.api.name}"
    assert binding["role"] == "roles/run.invoker"


@pytest.mark.parametrize("service", WORKERS)
def test_only_the_push_identity_invokes_a_worker(tf: Terraform, service: str) -> None:
    invokers = [
        body["member"]
        for body in tf.resources[RUN_IAM].values()
        if body["role"] == "roles/run.invoker"
        and body["name"]
        in (f"${{google_cloud_run_v2_service.{service}.name}}", f"${{google_cloud_run_v2_service.{service}[0].name}}")
    ]
    assert invokers == ["${google_service_account.push.member}"]


def test_no_run_iam_resource_is_authoritative(tf: Terraform) -> None:
    # _iam_binding/_iam_policy replace every other grant of the role (or of the whole service).
    assert not [t for t, _, _ in tf.all_resources() if t.endswith(("_iam_binding", "_iam_policy"))]


@pytest.mark.parametrize("service", ["api", *WORKERS])
def test_terraform_ignores_the_image_cloud_build_owns(tf: Terraform, service: str) -> None:
    lifecycle = block(tf.resource(RUN, service), "lifecycle")
    assert "${template[0].containers[0].image}" in lifecycle["ignore_changes"]


API_ENV = {
    "TASKKIT_BACKEND",
    "TASKKIT_PROJECT",
    "TASKKIT_BUCKET",
    "TASKKIT_DEFAULT_TOPIC",
    "TASKKIT_SIGNER_SERVICE_ACCOUNT",
    "SINGER_DEFAULT_CREDITS",
    "SINGER_MAX_JOBS_IN_FLIGHT",
    "SINGER_DEFAULT_VOICE",
    "TASKKIT_FIREBASE_PROJECT_ID",
    "SINGER_UPLOAD_RETENTION_DAYS",
    "SINGER_JOB_RETENTION_DAYS",
    "SINGER_CORS_ORIGINS",
    "SINGER_GPU_TOPIC",
}
WORKER_ENV = {
    "TASKKIT_BACKEND",
    "TASKKIT_PROJECT",
    "TASKKIT_BUCKET",
    "TASKKIT_DEFAULT_TOPIC",
    "TASKKIT_ACK_DEADLINE_S",
    "TASKKIT_MAX_DELIVERY_ATTEMPTS",
    "TASKKIT_MIN_BACKOFF_S",
    "TASKKIT_MAX_BACKOFF_S",
    "TASKKIT_PUSH_AUDIENCE",
    "TASKKIT_PUSH_SERVICE_ACCOUNT",
    "SINGER_DEFAULT_CREDITS",
    "SINGER_MAX_JOBS_IN_FLIGHT",
    "SINGER_DEFAULT_VOICE",
    "SINGER_GPU_TOPIC",
}


def test_service_environments(tf: Terraform) -> None:
    assert _env_local(tf, "api") == "${local.api_env}"
    assert set(tf.locals["api_env"]) == API_ENV
    assert set(tf.locals["worker_env"]) == WORKER_ENV
    assert tf.locals["api_env"]["TASKKIT_SIGNER_SERVICE_ACCOUNT"] == "${google_service_account.api.email}"
    worker = tf.locals["worker_env"]
    assert worker["TASKKIT_PUSH_SERVICE_ACCOUNT"] == "${google_service_account.push.email}"
    assert worker["TASKKIT_PUSH_AUDIENCE"] == "${local.push_audience}"
    for env in (tf.locals["api_env"], worker):
        assert env["TASKKIT_BACKEND"] == "gcp"
        assert tf.resolve(env["TASKKIT_DEFAULT_TOPIC"]) == "render-jobs"
    assert "local.worker_env" in _env_local(tf, "worker")
    gpu_env = _env_local(tf, "worker_gpu")
    assert "local.worker_env" in gpu_env and "TASKKIT_PUSH_AUDIENCE = local.gpu_push_audience" in gpu_env


def test_concurrent_renders_on_a_cpu_worker_share_its_vcpus(tf: Terraform) -> None:
    # Each of worker_concurrency renders pins its threads to worker_cpu / worker_concurrency (taskkit's
    # TASKKIT_WORKER_CPUS); at concurrency 1 nothing is set and a render takes every vCPU.
    share = str(tf.locals["worker_share_env"])
    assert "var.worker_concurrency > 1" in share and "TASKKIT_WORKER_CPUS" in share
    assert "tonumber(var.worker_cpu) / var.worker_concurrency" in share
    assert "local.worker_share_env" in _env_local(tf, "worker")
    assert "worker_share_env" not in _env_local(tf, "worker_gpu")  # a GPU render keeps its instance
    assert tf.resolve("${var.worker_concurrency}") == 1


def test_final_renders_start_on_the_gpu_tier_only_when_it_is_on(tf: Terraform) -> None:
    from singer_tasks.kit import RENDER_TOPIC, render_topic
    from singer_tasks.settings import SingerSettings

    for env in (tf.locals["api_env"], tf.locals["worker_env"]):
        assert env["SINGER_GPU_TOPIC"] == '${var.enable_gpu_tier ? local.gpu_topic : ""}'
    assert tf.resolve("${local.gpu_topic}") == "render-jobs-gpu"
    off = SingerSettings.from_env({"SINGER_GPU_TOPIC": ""})
    assert render_topic("final", off.gpu_topic, off.gpu_render_types) == RENDER_TOPIC
    on = SingerSettings.from_env({"SINGER_GPU_TOPIC": "render-jobs-gpu"})
    assert render_topic("final", on.gpu_topic, on.gpu_render_types) == "render-jobs-gpu"
    assert render_topic("preview", on.gpu_topic, on.gpu_render_types) == RENDER_TOPIC


def test_api_cors_origins_are_the_hosting_origins_plus_configured_ones(tf: Terraform) -> None:
    from singer_tasks.settings import SingerSettings

    value = tf.locals["api_env"]["SINGER_CORS_ORIGINS"]
    assert value == '${join(",", concat(local.hosting_origins, var.cors_origins))}'
    # The bucket's CORS (signed PUT uploads from the browser) allows the same origins.
    [cors] = tf.resource("google_storage_bucket", "main")["cors"]
    assert cors["origin"] == "${concat(local.hosting_origins, var.cors_origins)}"
    # What the api receives parses as SINGER_CORS_ORIGINS (terraform's join, done here by hand).
    hosting = [o.replace("${var.project_id}", "p1") for o in tf.locals["hosting_origins"]]
    joined = ",".join([*hosting, "https://sing.example.com"])
    parsed = SingerSettings.from_env({"SINGER_CORS_ORIGINS": joined}).cors_origins
    assert parsed == ("https://p1.web.app", "https://p1.firebaseapp.com", "https://sing.example.com")
