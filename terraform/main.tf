# Shared names and the APIs the project needs. Names of services, topics and paths are docs/architecture.md's
# contracts: the Python code and the tests in tests/infra read the same names.

locals {
  bucket_name = var.bucket_name != "" ? var.bucket_name : "${var.project_id}-singer"

  render_topic      = "render-jobs"
  dead_letter_topic = "render-jobs-dead-letter"
  gpu_topic         = "render-jobs-gpu"

  # One audience for every OIDC token the worker receives (render push, dead-letter push, sweep),
  # because taskkit checks one TASKKIT_PUSH_AUDIENCE. It is the worker's deterministic run.app URL
  # plus the push path, registered as a custom audience on the worker: the worker's own `uri`
  # cannot be used in its own environment (a dependency cycle), and Cloud Run accepts a token only
  # when its audience is the service URL or a configured custom audience.
  worker_base_url_deterministic = "https://worker-${data.google_project.this.number}.${var.region}.run.app"
  push_audience                 = "${local.worker_base_url_deterministic}/_taskkit/push"
  gpu_push_audience             = "https://worker-gpu-${data.google_project.this.number}.${var.region}.run.app/_taskkit/push"

  # The Pub/Sub service agent (service-<number>@gcp-sa-pubsub): dead-lettering publishes and acks
  # as this identity, and it mints the push OIDC tokens.
  pubsub_service_agent = google_project_service_identity.pubsub.member

  hosting_origins = [
    "https://${var.project_id}.web.app",
    "https://${var.project_id}.firebaseapp.com",
  ]

  labels = {
    app        = "ai-singer"
    managed-by = "terraform"
  }

  required_apis = toset([
    "artifactregistry.googleapis.com",
    "billingbudgets.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firebase.googleapis.com",
    "firebasehosting.googleapis.com",
    "firebaserules.googleapis.com",
    "firebasestorage.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com", # signBlob for signed URLs without a key file
    "identitytoolkit.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "serviceusage.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "required" {
  for_each = local.required_apis

  project = var.project_id
  service = each.value
  # Turning an API off on destroy would break anything else in the project that uses it.
  disable_on_destroy = false
}

# Service agents are created lazily; granting a role to one that does not exist yet fails.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta
  project  = var.project_id
  service  = "pubsub.googleapis.com"

  depends_on = [google_project_service.required]
}
