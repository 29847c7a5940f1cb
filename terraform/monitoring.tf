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
