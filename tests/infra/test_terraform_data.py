"""Storage bucket, Firestore (indexes agree with firestore.indexes.json, TTL), and taskkit's names."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.infra.tfmodel import REPO, Terraform, block, blocks

BUCKET = "google_storage_bucket"


def _lifecycle_prefixes(tf: Terraform) -> dict[str, Any]:
    """matches_prefix -> age (variable expression) of each Delete rule of the main bucket."""
    found: dict[str, Any] = {}
    for rule in blocks(tf.resource(BUCKET, "main"), "lifecycle_rule"):
        condition, action = block(rule, "condition"), block(rule, "action")
        if action["type"] == "Delete":
            for prefix in condition.get("matches_prefix", []):
                found[prefix] = condition["age"]
    return found


def test_bucket_is_private_with_uniform_access(tf: Terraform) -> None:
    for name in ("main", "build_source"):
        bucket = tf.resource(BUCKET, name)
        assert bucket["uniform_bucket_level_access"] is True
        assert bucket["public_access_prevention"] == "enforced"
    assert tf.resource(BUCKET, "main")["force_destroy"] is False


def test_lifecycle_rules_use_literal_prefixes(tf: Terraform) -> None:
    rules = _lifecycle_prefixes(tf)
    assert rules == {
        "intermediate/": "${var.intermediate_retention_days}",
        "cache/phrases/": "${var.phrase_cache_retention_days}",
        "uploads/": "${var.upload_retention_days}",
        "jobs/": "${var.job_retention_days}",
    }
    # GCS lifecycle prefixes are literal: a wildcard would silently match nothing.
    assert not [p for p in rules if any(c in p for c in "*?[")]
    assert tf.default("intermediate_retention_days") >= 1
    assert tf.default("phrase_cache_retention_days") > tf.default("intermediate_retention_days")


def test_user_data_is_retained_as_the_api_is_told(tf: Terraform) -> None:
    # uploads/ and jobs/ (a user's scores and renders) are deleted after a configurable time, and the
    # api is told the same periods (its upload quota counts the upload retention period).
    from singer_tasks.settings import SingerSettings

    defaults = SingerSettings.model_construct()
    assert tf.default("upload_retention_days") == defaults.upload_retention_days
    assert tf.default("job_retention_days") == defaults.job_retention_days
    assert tf.default("job_retention_days") >= tf.default("upload_retention_days") >= 1
    api_env = tf.locals["api_env"]
    assert api_env["SINGER_UPLOAD_RETENTION_DAYS"] == "${tostring(var.upload_retention_days)}"
    assert api_env["SINGER_JOB_RETENTION_DAYS"] == "${tostring(var.job_retention_days)}"


def test_cors_allows_browser_uploads_from_hosting(tf: Terraform) -> None:
    cors = block(tf.resource(BUCKET, "main"), "cors")
    assert "PUT" in cors["method"] and "GET" in cors["method"]
    assert cors["origin"] == "${concat(local.hosting_origins, var.cors_origins)}"
    origins = tf.locals["hosting_origins"]
    assert origins == ["https://${var.project_id}.web.app", "https://${var.project_id}.firebaseapp.com"]
    assert "*" not in cors["origin"]


def test_firestore_is_native_and_protected(tf: Terraform) -> None:
    db = tf.resource("google_firestore_database", "default")
    assert db["type"] == "FIRESTORE_NATIVE"
    assert db["name"] == "(default)"
    assert db["delete_protection_state"] == "DELETE_PROTECTION_ENABLED"
    assert db["deletion_policy"] == "ABANDON"


def _json_indexes() -> dict[str, Any]:
    return dict(json.loads((REPO / "firestore.indexes.json").read_text(encoding="utf-8")))


def test_terraform_indexes_equal_firestore_indexes_json(tf: Terraform) -> None:
    from_tf = sorted(
        (idx["collection"], tuple((f, o) for f, o in idx["fields"])) for idx in tf.locals["firestore_indexes"].values()
    )
    from_json = sorted(
        (idx["collectionGroup"], tuple((f["fieldPath"], f["order"]) for f in idx["fields"]))
        for idx in _json_indexes()["indexes"]
    )
    assert from_tf == from_json
    assert all(idx["queryScope"] == "COLLECTION" for idx in _json_indexes()["indexes"])


def test_indexes_serve_the_designed_queries(tf: Terraform) -> None:
    fields = {
        (idx["collection"], tuple(f for f, _ in idx["fields"])) for idx in tf.locals["firestore_indexes"].values()
    }
    assert ("jobs", ("userId", "createdAt")) in fields  # the jobs list, newest first
    assert ("jobs", ("userId", "status")) in fields  # jobs in flight per user
    assert ("jobs", ("status", "updatedAt")) in fields  # the sweep: stale pending jobs
    assert ("taskkit_leases", ("chord", "status")) in fields  # chord members done
    by_user = next(i for i in tf.locals["firestore_indexes"].values() if i["fields"][1][0] == "createdAt")
    assert by_user["fields"][1][1] == "DESCENDING"


def test_ttl_policies_on_lease_dead_letter_and_share_records(tf: Terraform) -> None:
    ttl = tf.resource("google_firestore_field", "ttl")
    assert ttl["for_each"] == "${local.firestore_ttl_fields}"
    assert ttl["field"] == "expireAt"
    assert blocks(ttl, "ttl_config") == [{}]
    collections = set(tf.locals["firestore_ttl_fields"].values())
    assert collections == {"taskkit_leases", "taskkit_dead_letters", "taskkit_chords", "taskkit_mutexes", "shares"}
    overrides = {(o["collectionGroup"], o["fieldPath"]) for o in _json_indexes()["fieldOverrides"] if o["ttl"]}
    assert overrides == {(c, "expireAt") for c in collections}


def test_taskkit_uses_the_collections_and_fields_terraform_configures(tf: Terraform) -> None:
    """The names live in taskkit's code; a rename there must be a rename here too."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "taskkit").rglob("*.py"))
    for collection in set(tf.locals["firestore_ttl_fields"].values()) - {"shares"}:
        assert re.search(rf"[\"']{collection}[\"']", source), f"taskkit never names {collection}"
    assert re.search(r"[\"']expireAt[\"']", source), "taskkit never writes expireAt"
    for path in ("/_taskkit/push", "/_taskkit/dead-letter", "/_taskkit/sweep"):
        assert f'"{path}"' in source, f"taskkit serves no {path}"
    shares = (REPO / "singer_tasks" / "jobs" / "shares.py").read_text(encoding="utf-8")
    assert re.search(r"[\"']shares[\"']", shares) and "expireAt" in shares, "the share records' TTL field moved"
