# Cost and health: a monthly budget, log-based metrics from the worker's structured logs, and
# alert policies on failure rate, dead letters and the age of the oldest unacked render message.
#
# Log contract (taskkit/logging.py writes Cloud Logging's shape: the structlog event name goes to
# jsonPayload.message, the bound task name to jsonPayload.task): a task that ends well logs
# "task.succeeded"; one recorded failed for good (permanent, or attempts exhausted) logs
# "task.failed_for_good" once. tests/infra checks that taskkit still logs these names.

resource "google_monitoring_notification_channel" "email" {
  display_name = "ai-singer alerts"
  type         = "email"
  labels = {
    email_address = var.alert_email
  }

  depends_on = [google_project_service.required]
}

resource "google_billing_budget" "monthly" {
  billing_account = var.billing_account
  display_name    = "ai-singer monthly"

  budget_filter {
    projects        = ["projects/${data.google_project.this.number}"]
    calendar_period = "MONTH"
  }

  amount {
    specified_amount {
      units = tostring(var.monthly_budget_units)
    }
  }

  dynamic "threshold_rules" {
    for_each = var.budget_thresholds
    content {
      threshold_percent = threshold_rules.value
      spend_basis       = "CURRENT_SPEND"
    }
  }

  # Warn early when the month is on course to overrun.
  threshold_rules {
    threshold_percent = 1.0
    spend_basis       = "FORECASTED_SPEND"
  }

  all_updates_rule {
    monitoring_notification_channels = [google_monitoring_notification_channel.email.id]
    disable_default_iam_recipients   = false
  }

  depends_on = [google_project_service.required]
}

locals {
  worker_log_filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=~\"^worker\""
}

resource "google_logging_metric" "task_failed" {
  name        = "taskkit_task_failed"
  description = "Tasks that ended failed (permanent failure or attempts exhausted), by task name."
  filter      = "${local.worker_log_filter} AND jsonPayload.message=\"task.failed_for_good\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "task"
      value_type  = "STRING"
      description = "Task name"
    }
  }

  label_extractors = {
    task = "EXTRACT(jsonPayload.task)"
  }
}

resource "google_logging_metric" "task_finished" {
  name        = "taskkit_task_finished"
  description = "Tasks that finished, succeeded or failed, by outcome and task name."
  filter      = "${local.worker_log_filter} AND jsonPayload.message=(\"task.succeeded\" OR \"task.failed_for_good\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "event"
      value_type  = "STRING"
      description = "task.succeeded or task.failed_for_good"
    }
    labels {
      key         = "task"
      value_type  = "STRING"
      description = "Task name"
    }
  }

  label_extractors = {
    event = "EXTRACT(jsonPayload.message)"
    task  = "EXTRACT(jsonPayload.task)"
  }
}

resource "google_monitoring_alert_policy" "failure_rate" {
  display_name = "Render task failure rate"
  combiner     = "OR"

  conditions {
    display_name = "Failed / finished tasks over 30 min above ${var.failure_rate_threshold}"

    condition_prometheus_query_language {
      query               = "sum(rate(logging_googleapis_com:user_taskkit_task_failed[30m])) / sum(rate(logging_googleapis_com:user_taskkit_task_finished[30m])) > ${var.failure_rate_threshold}"
      duration            = "0s"
      evaluation_interval = "60s"
    }
  }

  notification_channels = [google_monitoring_notification_channel.email.id]

  documentation {
    content   = "Many render tasks end failed. Check the worker's logs for jsonPayload.message=\"task.failed_for_good\" and the error codes on the failed jobs."
    mime_type = "text/markdown"
  }

  depends_on = [google_logging_metric.task_failed, google_logging_metric.task_finished]
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name = "Render messages dead-lettered"
  combiner     = "OR"

  conditions {
    display_name = "Messages sent to ${local.dead_letter_topic}"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.label.subscription_id = one_of(\"render-jobs-push\", \"render-jobs-gpu-push\") AND metric.type = \"pubsub.googleapis.com/subscription/dead_letter_message_count\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  notification_channels = [google_monitoring_notification_channel.email.id]

  documentation {
    content   = "Pub/Sub gave up delivering a render message. Inspect it with `gcloud pubsub subscriptions pull render-jobs-dead-letter-hold --limit 10` and the taskkit_dead_letters collection."
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "oldest_unacked" {
  display_name = "Render messages not drained"
  combiner     = "OR"

  conditions {
    display_name = "Oldest unacked message older than ${var.oldest_unacked_age_threshold_s} s"

    condition_threshold {
      filter          = "resource.type = \"pubsub_subscription\" AND resource.label.subscription_id = one_of(\"render-jobs-push\", \"render-jobs-gpu-push\", \"render-jobs-dead-letter-push\") AND metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.oldest_unacked_age_threshold_s
      duration        = "300s"

      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  notification_channels = [google_monitoring_notification_channel.email.id]

  documentation {
    content   = "Pushed messages are not being acked: the worker may be failing, at its instance limit, or refusing the push token. Check the worker's request logs and its max instances."
    mime_type = "text/markdown"
  }
}

# ---------------------------------------------------------------- retries, timing, jobs, dead letters
#
# More of the log contract (tests/infra/test_terraform_monitoring.py runs the code and checks each
# filter below against the lines it really writes):
#   taskkit (worker): "task.started" and "task.retry" (bound field `task`, `code` on retries),
#                     "task.succeeded" with `seconds`, "message.kept" with `source` (a dead letter kept);
#   render tasks:     "job.completed" with `seconds` (sung length) and `credits` (charged), "job.failed" with `code`;
#   api:              one "http.request" line per request, its httpRequest moved to the log entry.

locals {
  api_log_filter = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"api\""
}

resource "google_logging_metric" "task_started" {
  name        = "taskkit_task_started"
  description = "Task attempts started, by task name."
  filter      = "${local.worker_log_filter} AND jsonPayload.message=\"task.started\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "task"
      value_type  = "STRING"
      description = "Task name"
    }
  }

  label_extractors = {
    task = "EXTRACT(jsonPayload.task)"
  }
}

resource "google_logging_metric" "task_retried" {
  name        = "taskkit_task_retried"
  description = "Task attempts that failed transiently and were scheduled again, by task name and error code."
  filter      = "${local.worker_log_filter} AND jsonPayload.message=\"task.retry\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "task"
      value_type  = "STRING"
      description = "Task name"
    }
    labels {
      key         = "code"
      value_type  = "STRING"
      description = "Error code of the failed attempt"
    }
  }

  label_extractors = {
    task = "EXTRACT(jsonPayload.task)"
    code = "EXTRACT(jsonPayload.code)"
  }
}

# Seconds each successful attempt took, by task: singer.render_phrase is the render time per phrase.
resource "google_logging_metric" "task_seconds" {
  name        = "taskkit_task_seconds"
  description = "Duration of successful task attempts in seconds, by task name."
  filter      = "${local.worker_log_filter} AND jsonPayload.message=\"task.succeeded\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "s"
    labels {
      key         = "task"
      value_type  = "STRING"
      description = "Task name"
    }
  }

  value_extractor = "EXTRACT(jsonPayload.seconds)"
  label_extractors = {
    task = "EXTRACT(jsonPayload.task)"
  }

  # 0.1 s to about 27 minutes, doubling: phrase renders take seconds to minutes.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 14
      growth_factor      = 2
      scale              = 0.1
    }
  }
}

resource "google_logging_metric" "messages_kept" {
  name        = "taskkit_messages_kept"
  description = "Messages kept as dead letters, by source: failed (failed for good), dead-letter (Pub/Sub gave up), push (undecodable)."
  filter      = "${local.worker_log_filter} AND jsonPayload.message=\"message.kept\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "source"
      value_type  = "STRING"
      description = "failed, dead-letter or push (undecodable)"
    }
  }

  label_extractors = {
    source = "EXTRACT(jsonPayload.source)"
  }
}

resource "google_logging_metric" "jobs_ended" {
  name        = "singer_jobs_ended"
  description = "Render jobs that ended, completed or failed, by outcome and error code."
  filter      = "${local.worker_log_filter} AND jsonPayload.message=(\"job.completed\" OR \"job.failed\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
    labels {
      key         = "event"
      value_type  = "STRING"
      description = "job.completed or job.failed"
    }
    labels {
      key         = "code"
      value_type  = "STRING"
      description = "Error code of a failed job (empty when completed)"
    }
  }

  label_extractors = {
    event = "EXTRACT(jsonPayload.message)"
    code  = "EXTRACT(jsonPayload.code)"
  }
}

# Sung seconds of completed jobs: what credits are charged for (one per started 10 s of a final render).
resource "google_logging_metric" "sung_seconds" {
  name        = "singer_sung_seconds"
  description = "Length in seconds of each completed song (credits are charged by it)."
  filter      = "${local.worker_log_filter} AND jsonPayload.message=\"job.completed\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "s"
  }

  value_extractor = "EXTRACT(jsonPayload.seconds)"

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 10
      growth_factor      = 2
      scale              = 1
    }
  }
}

# Credits charged by each completed job (the completion's charge, logged with "job.completed").
resource "google_logging_metric" "credits_charged" {
  name        = "singer_credits_charged"
  description = "Credits charged by each completed job."
  filter      = "${local.worker_log_filter} AND jsonPayload.message=\"job.completed\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "1"
  }

  value_extractor = "EXTRACT(jsonPayload.credits)"

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 10
      growth_factor      = 2
      scale              = 1
    }
  }
}

resource "google_logging_metric" "jobs_created" {
  name        = "singer_jobs_created"
  description = "Render jobs created (POST /v1/jobs answered 202 Accepted), from the api access log."
  filter      = "${local.api_log_filter} AND jsonPayload.message=\"http.request\" AND httpRequest.requestMethod=\"POST\" AND httpRequest.requestUrl=\"/v1/jobs\" AND httpRequest.status=202"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }
}

resource "google_monitoring_alert_policy" "retry_rate" {
  display_name = "Render task retry rate"
  combiner     = "OR"

  conditions {
    display_name = "Retried / started attempts over 30 min above ${var.retry_rate_threshold}"

    condition_prometheus_query_language {
      query               = "sum(rate(logging_googleapis_com:user_taskkit_task_retried[30m])) / sum(rate(logging_googleapis_com:user_taskkit_task_started[30m])) > ${var.retry_rate_threshold}"
      duration            = "300s"
      evaluation_interval = "60s"
    }
  }

  notification_channels = [google_monitoring_notification_channel.email.id]

  documentation {
    content   = "Many render attempts fail transiently and are retried (a backend outage, lease contention, a worker restarting). Group the worker's \"task.retry\" lines by jsonPayload.code to see why; see docs/operations.md."
    mime_type = "text/markdown"
  }

  depends_on = [google_logging_metric.task_retried, google_logging_metric.task_started]
}

# ---------------------------------------------------------------- api uptime

resource "google_monitoring_uptime_check_config" "api" {
  display_name = "api /healthz"
  timeout      = "10s"
  period       = var.uptime_check_period

  http_check {
    path           = "/healthz"
    port           = 443
    use_ssl        = true
    validate_ssl   = true
    request_method = "GET"

    accepted_response_status_codes {
      status_class = "STATUS_CLASS_2XX"
    }
  }

  content_matchers {
    content = "\"ok\":true"
    matcher = "CONTAINS_STRING"
  }

  monitored_resource {
    type = "uptime_url"
    labels = {
      project_id = var.project_id
      host       = trimprefix(google_cloud_run_v2_service.api.uri, "https://")
    }
  }

  depends_on = [google_project_service.required]
}

resource "google_monitoring_alert_policy" "api_down" {
  display_name = "API not answering /healthz"
  combiner     = "OR"

  conditions {
    display_name = "Uptime check on the api failing from more than one region"

    condition_threshold {
      filter          = "metric.type=\"monitoring.googleapis.com/uptime_check/check_passed\" AND resource.type=\"uptime_url\" AND metric.label.check_id=\"${google_monitoring_uptime_check_config.api.uptime_check_id}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 1
      duration        = "600s"

      aggregations {
        alignment_period     = "1200s"
        per_series_aligner   = "ALIGN_NEXT_OLDER"
        cross_series_reducer = "REDUCE_COUNT_FALSE"
        group_by_fields      = ["resource.label.*"]
      }

      trigger {
        count = 1
      }
    }
  }

  notification_channels = [google_monitoring_notification_channel.email.id]

  documentation {
    content   = "The api's /healthz has failed from several checker regions for 10 minutes. Check the api's Cloud Run revisions and logs; roll back with docs/operations.md if a new revision is at fault."
    mime_type = "text/markdown"
  }
}

# ---------------------------------------------------------------- dashboard

# The layout lives in dashboards/operations.json (tests/infra checks that every metric it charts is
# one defined here or a built-in Pub/Sub or uptime metric).
resource "google_monitoring_dashboard" "operations" {
  dashboard_json = file("${path.module}/dashboards/operations.json")

  depends_on = [
    google_logging_metric.task_finished,
    google_logging_metric.task_failed,
    google_logging_metric.task_seconds,
    google_logging_metric.task_retried,
    google_logging_metric.messages_kept,
    google_logging_metric.jobs_ended,
    google_logging_metric.jobs_created,
    google_logging_metric.sung_seconds,
    google_logging_metric.credits_charged,
  ]
}
