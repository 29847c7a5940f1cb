# Pub/Sub: the render topic pushed to the worker, the dead-letter topic pushed to the worker's
# dead-letter endpoint and kept for inspection, and the GPU tier's topic when it is on.
#
# Timing contract (docs/push-contract.md, "Timing checks at start"): ack deadline == worker request timeout <= 600 s, and
# max_delivery_attempts > taskkit's max_attempts (validated in variables.tf), because Pub/Sub's
# delivery count also grows with nacks on live leases, deadline expiries and 429s.

locals {
  retry_min_backoff = "${var.retry_min_backoff_s}s"
  retry_max_backoff = "${var.retry_max_backoff_s}s"
  retention_7d      = "604800s"
}

resource "google_pubsub_topic" "render_jobs" {
  # checkov:skip=CKV_GCP_83: Google-managed encryption is enough for scores and rendered audio; customer keys would add KMS cost, key rotation and KMS grants for every service agent, for no requirement we have.
  name   = local.render_topic
  labels = local.labels

  depends_on = [google_project_service.required]
}

resource "google_pubsub_topic" "dead_letter" {
  # checkov:skip=CKV_GCP_83: Google-managed encryption is enough for scores and rendered audio; customer keys would add KMS cost, key rotation and KMS grants for every service agent, for no requirement we have.
  name   = local.dead_letter_topic
  labels = local.labels

  depends_on = [google_project_service.required]
}

resource "google_pubsub_subscription" "render_push" {
  name                 = "render-jobs-push"
  topic                = google_pubsub_topic.render_jobs.id
  labels               = local.labels
  ack_deadline_seconds = var.ack_deadline_s
  # Undelivered work waits a week (the sweep republishes anything older that was lost).
  message_retention_duration = local.retention_7d

  # An empty ttl: the subscription never expires for lack of traffic (scale-to-zero projects
  # may go quiet for weeks).
  expiration_policy {
    ttl = ""
  }

  # The wrapped push body (no no_wrapper block) carries deliveryAttempt.
  push_config {
    push_endpoint = "${google_cloud_run_v2_service.worker.uri}/_taskkit/push"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.push_audience
    }
  }

  retry_policy {
    minimum_backoff = local.retry_min_backoff
    maximum_backoff = local.retry_max_backoff
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  depends_on = [
    google_pubsub_topic_iam_member.pubsub_agent_publish_dead_letter,
    google_service_account_iam_member.pubsub_agent_mints_push_tokens,
  ]
}

# Dead letters go to taskkit's dead-letter endpoint, which keeps the raw message and runs the
# task's failure hook (job failed, credits refunded) unless its lease is done or live.
resource "google_pubsub_subscription" "dead_letter_push" {
  name                       = "render-jobs-dead-letter-push"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = local.labels
  ack_deadline_seconds       = var.ack_deadline_s
  message_retention_duration = local.retention_7d

  expiration_policy {
    ttl = ""
  }

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.worker.uri}/_taskkit/dead-letter"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.push_audience
    }
  }

  # No dead-letter policy here: a dead letter that cannot be recorded is retried for the whole
  # retention period, and the inspection subscription below keeps a copy meanwhile.
  retry_policy {
    minimum_backoff = local.retry_min_backoff
    maximum_backoff = local.retry_max_backoff
  }

  depends_on = [google_service_account_iam_member.pubsub_agent_mints_push_tokens]
}

# A pull subscription nobody acks: every dead letter stays here for inspection
# (`gcloud pubsub subscriptions pull render-jobs-dead-letter-hold --limit 10`) until it expires.
resource "google_pubsub_subscription" "dead_letter_hold" {
  name                       = "render-jobs-dead-letter-hold"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = local.labels
  ack_deadline_seconds       = 60
  message_retention_duration = "${var.dead_letter_retention_days * 86400}s"
  retain_acked_messages      = true

  expiration_policy {
    ttl = ""
  }
}

# ---------------------------------------------------------------- GPU tier (off by default)

resource "google_pubsub_topic" "gpu" {
  # checkov:skip=CKV_GCP_83: Google-managed encryption is enough for scores and rendered audio; customer keys would add KMS cost, key rotation and KMS grants for every service agent, for no requirement we have.
  count = var.enable_gpu_tier ? 1 : 0

  name   = local.gpu_topic
  labels = local.labels

  depends_on = [google_project_service.required]
}

resource "google_pubsub_subscription" "gpu_push" {
  count = var.enable_gpu_tier ? 1 : 0

  name                       = "render-jobs-gpu-push"
  topic                      = google_pubsub_topic.gpu[0].id
  labels                     = local.labels
  ack_deadline_seconds       = var.ack_deadline_s
  message_retention_duration = local.retention_7d

  expiration_policy {
    ttl = ""
  }

  push_config {
    push_endpoint = "${google_cloud_run_v2_service.worker_gpu[0].uri}/_taskkit/push"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.gpu_push_audience
    }
  }

  retry_policy {
    minimum_backoff = local.retry_min_backoff
    maximum_backoff = local.retry_max_backoff
  }

  # Shares the dead-letter topic: one place to inspect and one failure path.
  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  depends_on = [
    google_pubsub_topic_iam_member.pubsub_agent_publish_dead_letter,
    google_service_account_iam_member.pubsub_agent_mints_push_tokens,
  ]
}
