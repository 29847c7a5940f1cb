# The taskkit sweep (`python -m taskkit sweep`, served by the worker at /_taskkit/sweep):
# republishes jobs left `pending` past a threshold and fires chord callbacks whose members all
# finished (docs/push-contract.md, "Nothing is stuck for ever").
#
# It calls the worker as the push identity, with the same audience as the push subscriptions, so
# the worker stays invocable by that one identity and taskkit checks one email and one audience
# on all three of its endpoints.

resource "google_cloud_scheduler_job" "sweep" {
  name        = "taskkit-sweep"
  description = "Runs taskkit sweep on the worker."
  region      = var.region
  schedule    = var.sweep_schedule
  time_zone   = "Etc/UTC"
  # The worker's request timeout; a sweep that runs longer is cut by Cloud Run anyway.
  attempt_deadline = "${var.ack_deadline_s}s"

  # No retries: the next run is at most one period away and does the same work.
  retry_config {
    retry_count = 0
  }

  http_target {
    http_method = "POST"
    uri         = "${google_cloud_run_v2_service.worker.uri}/_taskkit/sweep"

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.push_audience
    }
  }

  depends_on = [google_project_service.required]
}
