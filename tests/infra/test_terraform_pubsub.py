"""Pub/Sub: push with OIDC to the worker, retry and dead-letter policies, the dead-letter path."""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.tfmodel import Terraform, block, blocks, duration_s

SUB = "google_pubsub_subscription"
PUSH_SA_EMAIL = "${google_service_account.push.email}"


def _push(tf: Terraform, name: str) -> dict[str, Any]:
    return block(tf.resource(SUB, name), "push_config")


def test_topics_have_the_design_names(tf: Terraform) -> None:
    assert tf.resolve(tf.resource("google_pubsub_topic", "render_jobs")["name"]) == "render-jobs"
    assert tf.resolve(tf.resource("google_pubsub_topic", "dead_letter")["name"]) == "render-jobs-dead-letter"


@pytest.mark.parametrize(
    ("subscription", "path"),
    [("render_push", "/_taskkit/push"), ("dead_letter_push", "/_taskkit/dead-letter"), ("gpu_push", "/_taskkit/push")],
)
def test_push_subscriptions_reach_the_worker_with_an_oidc_token(tf: Terraform, subscription: str, path: str) -> None:
    push = _push(tf, subscription)
    service = "worker_gpu[0]" if subscription == "gpu_push" else "worker"
    assert push["push_endpoint"] == f"${{google_cloud_run_v2_service.{service}.uri}}{path}"
    oidc = block(push, "oidc_token")
    assert oidc["service_account_email"] == PUSH_SA_EMAIL
    # One audience per worker service, the one it registers and its TASKKIT_PUSH_AUDIENCE.
    audience = "${local.gpu_push_audience}" if subscription == "gpu_push" else "${local.push_audience}"
    assert oidc["audience"] == audience
    # The wrapped body carries deliveryAttempt; an unwrapped push would lose it.
    assert "no_wrapper" not in push


def test_render_subscription_timing_and_policies(tf: Terraform) -> None:
    body = tf.resource(SUB, "render_push")
    assert tf.resolve(body["ack_deadline_seconds"]) == tf.default("ack_deadline_s") == 600
    retry = block(body, "retry_policy")
    assert duration_s(tf.resolve(retry["minimum_backoff"])) == 10
    assert duration_s(tf.resolve(retry["maximum_backoff"])) == 600
    dead = block(body, "dead_letter_policy")
    assert dead["dead_letter_topic"] == "${google_pubsub_topic.dead_letter.id}"
    attempts = tf.resolve(dead["max_delivery_attempts"])
    assert attempts == 20
    assert 5 <= attempts <= 100


def test_subscriptions_never_expire(tf: Terraform) -> None:
    for name in ("render_push", "dead_letter_push", "dead_letter_hold", "gpu_push"):
        assert block(tf.resource(SUB, name), "expiration_policy")["ttl"] == "", name


def test_dead_letters_are_kept_for_inspection_for_seven_days(tf: Terraform) -> None:
    hold = tf.resource(SUB, "dead_letter_hold")
    assert hold["topic"] == "${google_pubsub_topic.dead_letter.id}"
    assert "push_config" not in hold  # a pull subscription nobody acks
    retention = hold["message_retention_duration"]
    assert retention == "${var.dead_letter_retention_days * 86400}s"
    assert tf.default("dead_letter_retention_days") * 86400 == 7 * 24 * 3600


def test_dead_letter_topic_has_both_subscriptions(tf: Terraform) -> None:
    on_dead = [n for n, b in tf.resources[SUB].items() if b["topic"] == "${google_pubsub_topic.dead_letter.id}"]
    assert sorted(on_dead) == ["dead_letter_hold", "dead_letter_push"]
    # A dead-letter subscription with a dead-letter policy of its own could lose the message.
    assert not blocks(tf.resource(SUB, "dead_letter_push"), "dead_letter_policy")


def test_pubsub_service_agent_can_dead_letter(tf: Terraform) -> None:
    assert tf.locals["pubsub_service_agent"] == "${google_project_service_identity.pubsub.member}"
    assert tf.resource("google_project_service_identity", "pubsub")["service"] == "pubsub.googleapis.com"
    publish = tf.resource("google_pubsub_topic_iam_member", "pubsub_agent_publish_dead_letter")
    assert (publish["topic"], publish["role"], publish["member"]) == (
        "${google_pubsub_topic.dead_letter.name}",
        "roles/pubsub.publisher",
        "${local.pubsub_service_agent}",
    )
    for name, subscription in (("pubsub_agent_ack_render", "render_push"), ("pubsub_agent_ack_gpu", "gpu_push[0]")):
        ack = tf.resource("google_pubsub_subscription_iam_member", name)
        assert ack["role"] == "roles/pubsub.subscriber"
        assert ack["member"] == "${local.pubsub_service_agent}"
        assert ack["subscription"] == f"${{google_pubsub_subscription.{subscription}.name}}"


def test_gpu_tier_is_off_by_default_and_guarded(tf: Terraform) -> None:
    assert tf.default("enable_gpu_tier") is False
    guarded = [
        ("google_pubsub_topic", "gpu"),
        (SUB, "gpu_push"),
        ("google_cloud_run_v2_service", "worker_gpu"),
        ("google_cloud_run_v2_service_iam_member", "worker_gpu_invoker_push"),
    ]
    for rtype, name in guarded:
        assert tf.resource(rtype, name)["count"] == "${var.enable_gpu_tier ? 1 : 0}", f"{rtype}.{name}"
    assert tf.resolve(tf.resource("google_pubsub_topic", "gpu")["name"]) == "render-jobs-gpu"
