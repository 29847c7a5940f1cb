"""Sweep schedule, budget, alert policies, required APIs, Firebase Auth (log metrics: test_terraform_monitoring)."""

from __future__ import annotations

from tests.infra.tfmodel import Terraform, block, blocks, duration_s


def test_sweep_runs_on_the_worker_as_the_push_identity(tf: Terraform) -> None:
    job = tf.resource("google_cloud_scheduler_job", "sweep")
    target = block(job, "http_target")
    assert target["http_method"] == "POST"
    assert target["uri"] == "${google_cloud_run_v2_service.worker.uri}/_taskkit/sweep"
    oidc = block(target, "oidc_token")
    assert oidc["service_account_email"] == "${google_service_account.push.email}"
    assert oidc["audience"] == "${local.push_audience}"
    assert tf.default("sweep_schedule") == "*/5 * * * *"
    # A sweep may take as long as any request to the worker, and no longer.
    assert duration_s(tf.resolve(job["attempt_deadline"])) == tf.default("ack_deadline_s")


def test_budget_alerts_at_thresholds(tf: Terraform) -> None:
    budget = tf.resource("google_billing_budget", "monthly")
    thresholds = tf.default("budget_thresholds")
    assert thresholds == sorted(thresholds) and thresholds[-1] == 1.0 and len(thresholds) >= 2
    (dynamic,) = [d["threshold_rules"] for d in budget["dynamic"] if "threshold_rules" in d]
    assert dynamic["for_each"] == "${var.budget_thresholds}"
    forecast = block(budget, "threshold_rules")
    assert forecast["spend_basis"] == "FORECASTED_SPEND"
    channels = block(budget, "all_updates_rule")["monitoring_notification_channels"]
    assert channels == ["${google_monitoring_notification_channel.email.id}"]


def test_alert_policies_cover_failures_dead_letters_and_backlog(tf: Terraform) -> None:
    policies = tf.resources["google_monitoring_alert_policy"]
    assert {"failure_rate", "dead_letters", "oldest_unacked", "retry_rate", "api_down"} <= set(policies)
    rate = block(block(policies["failure_rate"], "conditions"), "condition_prometheus_query_language")["query"]
    assert "user_taskkit_task_failed" in rate and "user_taskkit_task_finished" in rate
    dead = block(block(policies["dead_letters"], "conditions"), "condition_threshold")
    assert "subscription/dead_letter_message_count" in dead["filter"] and '"render-jobs-push"' in dead["filter"]
    backlog = block(block(policies["oldest_unacked"], "conditions"), "condition_threshold")
    assert "subscription/oldest_unacked_message_age" in backlog["filter"]
    assert backlog["threshold_value"] == "${var.oldest_unacked_age_threshold_s}"
    # Older than one ack deadline plus the longest backoff means deliveries are failing.
    assert tf.default("oldest_unacked_age_threshold_s") > tf.default("ack_deadline_s") + tf.default(
        "retry_max_backoff_s"
    )
    for policy in policies.values():
        assert policy["notification_channels"] == ["${google_monitoring_notification_channel.email.id}"]


def test_required_apis_include_what_the_code_calls(tf: Terraform) -> None:
    apis = set(tf.locals["required_apis"].removeprefix("${toset(").removesuffix(")}").replace('"', "").split(", "))
    apis = {a.strip("[] \n") for a in apis}
    for api in (
        "run.googleapis.com",
        "pubsub.googleapis.com",
        "firestore.googleapis.com",
        "storage.googleapis.com",
        "iamcredentials.googleapis.com",  # signBlob
        "cloudscheduler.googleapis.com",
        "identitytoolkit.googleapis.com",
        "billingbudgets.googleapis.com",
    ):
        assert api in apis, api


def test_firebase_auth_allows_email_sign_in_and_hosting_domains(tf: Terraform) -> None:
    auth = tf.resource("google_identity_platform_config", "auth")
    email = block(block(auth, "sign_in"), "email")
    assert email["enabled"] is True and email["password_required"] is True
    assert "${var.project_id}.web.app" in auth["authorized_domains"]
    google = tf.resource("google_identity_platform_default_supported_idp_config", "google")
    assert google["count"] == '${var.google_oauth_client_id != "" ? 1 : 0}'
    assert tf.variables["google_oauth_client_secret"]["sensitive"] is True
    assert not blocks(tf.resource("google_firebase_web_app", "spa"), "lifecycle")
