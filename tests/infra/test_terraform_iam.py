"""Least privilege: who holds which role on what, and nothing broader."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.infra.tfmodel import Terraform, blocks

PRIMITIVE = {"roles/owner", "roles/editor", "roles/viewer"}
_SA_MEMBER = re.compile(r"^\$\{google_service_account\.([a-z_]+)\.member\}$")
# The attribute that names what a grant is on, per IAM resource type.
_TARGET_ATTR = {
    "google_project_iam_member": "project",
    "google_storage_bucket_iam_member": "bucket",
    "google_pubsub_topic_iam_member": "topic",
    "google_pubsub_subscription_iam_member": "subscription",
    "google_service_account_iam_member": "service_account_id",
    "google_cloud_run_v2_service_iam_member": "name",
    "google_artifact_registry_repository_iam_member": "repository",
}


def _identity(member: str) -> str:
    match = _SA_MEMBER.match(member)
    if match:
        return match.group(1)
    if member == "${local.pubsub_service_agent}":
        return "pubsub_agent"
    return member


def _target(rtype: str, body: dict[str, Any]) -> str:
    value = str(body[_TARGET_ATTR[rtype]])
    # "${google_pubsub_topic.render_jobs.name}" -> "google_pubsub_topic.render_jobs"
    match = re.match(r"^\$\{([a-z0-9_]+\.[a-z0-9_]+(?:\[0\])?)\.[a-z_]+\}$", value)
    return match.group(1).replace("[0]", "") if match else value


def grants(tf: Terraform) -> list[tuple[str, str, str, str, dict[str, Any]]]:
    """(identity, role, resource type, target, body) of every IAM grant."""
    found = []
    for rtype, _name, body in tf.all_resources():
        if "_iam_" in rtype and rtype != "google_project_iam_custom_role":
            assert rtype in _TARGET_ATTR, f"add {rtype} to the infra tests' IAM table"
            found.append((_identity(str(body["member"])), str(body["role"]), rtype, _target(rtype, body), body))
    return found


def held_by(tf: Terraform, identity: str) -> set[tuple[str, str]]:
    return {(role, target) for who, role, _, target, _ in grants(tf) if who == identity}


BUCKET = "google_storage_bucket.main"

EXPECTED = {
    "api": {
        ("roles/storage.objectCreator", BUCKET),
        ("roles/storage.objectViewer", BUCKET),
        ("roles/iam.serviceAccountTokenCreator", "google_service_account.api"),
        ("roles/pubsub.publisher", "google_pubsub_topic.render_jobs"),
        ("roles/pubsub.publisher", "google_pubsub_topic.gpu"),
        ("roles/datastore.user", "${var.project_id}"),
        ("roles/firebaseauth.viewer", "${var.project_id}"),  # revoked-token checks on job creation, uploads
        ("${google_project_iam_custom_role.account_deleter.name}", "${var.project_id}"),  # DELETE /v1/me
        ("${google_project_iam_custom_role.user_data_eraser.name}", BUCKET),  # song/account deletion, export
    },
    "worker": {
        ("roles/storage.objectViewer", BUCKET),
        ("roles/storage.objectUser", BUCKET),
        ("roles/storage.objectViewer", "${var.voices_bucket}"),
        ("roles/pubsub.publisher", "google_pubsub_topic.render_jobs"),
        ("roles/pubsub.publisher", "google_pubsub_topic.gpu"),
        ("roles/datastore.user", "${var.project_id}"),
    },
    "push": {
        ("roles/run.invoker", "google_cloud_run_v2_service.worker"),
        ("roles/run.invoker", "google_cloud_run_v2_service.worker_gpu"),
    },
    "pubsub_agent": {
        ("roles/iam.serviceAccountTokenCreator", "google_service_account.push"),
        ("roles/pubsub.publisher", "google_pubsub_topic.dead_letter"),
        ("roles/pubsub.subscriber", "google_pubsub_subscription.render_push"),
        ("roles/pubsub.subscriber", "google_pubsub_subscription.gpu_push"),
    },
    "deployer": {
        ("roles/run.developer", "google_cloud_run_v2_service.api"),
        ("roles/run.developer", "google_cloud_run_v2_service.worker"),
        ("roles/run.developer", "google_cloud_run_v2_service.worker_gpu"),
        ("roles/iam.serviceAccountUser", "google_service_account.api"),
        ("roles/iam.serviceAccountUser", "google_service_account.worker"),
        ("roles/artifactregistry.writer", "google_artifact_registry_repository.images"),
        ("roles/firebasehosting.admin", "${var.project_id}"),
        ("roles/firebaserules.admin", "${var.project_id}"),
        ("roles/logging.logWriter", "${var.project_id}"),
        ("roles/storage.objectViewer", "google_storage_bucket.build_source"),
    },
    "allUsers": {("roles/run.invoker", "google_cloud_run_v2_service.api")},
}


@pytest.mark.parametrize("identity", sorted(EXPECTED))
def test_each_identity_holds_exactly_its_roles(tf: Terraform, identity: str) -> None:
    assert held_by(tf, identity) == EXPECTED[identity]


def test_nobody_else_holds_anything(tf: Terraform) -> None:
    assert {who for who, *_ in grants(tf)} == set(EXPECTED)


def test_no_primitive_roles(tf: Terraform) -> None:
    assert not [(who, role) for who, role, *_ in grants(tf) if role in PRIMITIVE]


def test_the_public_only_invokes_the_api(tf: Terraform) -> None:
    public = [(role, target) for who, role, _, target, _ in grants(tf) if who in ("allUsers", "allAuthenticatedUsers")]
    assert public == [("roles/run.invoker", "google_cloud_run_v2_service.api")]


def test_runtime_identities_hold_no_admin_or_project_wide_role_but_firestore(tf: Terraform) -> None:
    for who, role, rtype, _, _ in grants(tf):
        if who in ("api", "worker", "push"):
            assert "admin" not in role.lower(), (who, role)
            if rtype == "google_project_iam_member":
                # Firestore has no per-collection IAM, and Firebase Auth none per user (the api reads users
                # to refuse revoked tokens); everything else is granted on a resource.
                api_only = {"roles/firebaseauth.viewer", "${google_project_iam_custom_role.account_deleter.name}"}
                allowed = {"roles/datastore.user"} | (api_only if who == "api" else set())
                assert role in allowed, (who, role)


def test_api_publishes_only_to_render_topics(tf: Terraform) -> None:
    topics = {target for role, target in held_by(tf, "api") if role == "roles/pubsub.publisher"}
    assert topics <= {"google_pubsub_topic.render_jobs", "google_pubsub_topic.gpu"}
    assert "google_pubsub_topic.dead_letter" not in topics


def _conditions(tf: Terraform, identity: str) -> dict[str, str]:
    """role -> condition expression (locals expanded) of identity's grants on the bucket."""
    found = {}
    for who, role, _, target, body in grants(tf):
        if who == identity and target == BUCKET:
            (condition,) = blocks(body, "condition")
            expression = str(condition["expression"])
            for _ in range(3):  # conditions are built from locals built from locals
                expression = re.sub(r"\$\{local\.([a-z_]+)\}", lambda m: str(tf.locals[m.group(1)]), expression)
            found[role] = expression
    return found


def _prefixes(expression: str) -> set[str]:
    return set(re.findall(r"objects/([a-z]+/)", expression))


def test_bucket_grants_are_conditioned_on_object_prefixes(tf: Terraform) -> None:
    assert tf.locals["object_prefix"] == "projects/_/buckets/${local.bucket_name}/objects/"
    api = _conditions(tf, "api")
    assert _prefixes(api["roles/storage.objectCreator"]) == {"uploads/"}
    assert _prefixes(api["roles/storage.objectViewer"]) == {"jobs/", "uploads/"}
    worker = _conditions(tf, "worker")
    assert _prefixes(worker["roles/storage.objectViewer"]) == {"uploads/", "voices/"}  # voices: read, never written
    assert _prefixes(worker["roles/storage.objectUser"]) == {"intermediate/", "jobs/", "cache/"}
    # The api never writes outside uploads/, and never reads intermediates or the cache; it may delete a
    # user's intermediates (song and account deletion), never the shared cache.
    eraser = api.pop("${google_project_iam_custom_role.user_data_eraser.name}")
    assert _prefixes(eraser) == {"intermediate/"}  # with local.cond_uploads and cond_outputs (the last test)
    assert "intermediate/" not in str(api) and "cache/" not in str(api) and "cache/" not in eraser


def test_api_signs_as_itself_only(tf: Terraform) -> None:
    signer = tf.resource("google_service_account_iam_member", "api_sign_blob_as_itself")
    assert signer["service_account_id"] == "${google_service_account.api.name}"
    assert signer["member"] == "${google_service_account.api.member}"


def test_service_account_ids(tf: Terraform) -> None:
    ids = {name: body["account_id"] for name, body in tf.resources["google_service_account"].items()}
    assert ids == {"api": "api-sa", "worker": "worker-sa", "push": "pubsub-push-sa", "deployer": "deployer-sa"}


def test_account_deletion_role_holds_only_the_user_writes_it_needs(tf: Terraform) -> None:
    role = tf.resource("google_project_iam_custom_role", "account_deleter")
    assert sorted(role["permissions"]) == ["firebaseauth.users.delete", "firebaseauth.users.update"]


def test_the_api_may_erase_user_data_but_never_overwrite_it(tf: Terraform) -> None:
    role = tf.resource("google_project_iam_custom_role", "user_data_eraser")
    assert sorted(role["permissions"]) == ["storage.objects.delete", "storage.objects.list"]
    grant = tf.resource("google_storage_bucket_iam_member", "api_erase_user_data")
    expression = blocks(grant, "condition")[0]["expression"]
    for prefix in ("cond_uploads", "cond_outputs", "intermediate/", "cond_bucket_list"):
        assert prefix in expression, prefix
