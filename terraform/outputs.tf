output "api_url" {
  description = "Public URL of the api service."
  value       = google_cloud_run_v2_service.api.uri
}

output "worker_url" {
  description = "URL of the worker service (invocable only by the push identity)."
  value       = google_cloud_run_v2_service.worker.uri
}

output "worker_gpu_url" {
  description = "URL of the GPU worker service, or null when the GPU tier is off."
  value       = var.enable_gpu_tier ? google_cloud_run_v2_service.worker_gpu[0].uri : null
}

output "bucket" {
  description = "The Storage bucket (TASKKIT_BUCKET)."
  value       = google_storage_bucket.main.name
}

output "image_repository" {
  description = "Artifact Registry path that deploy/cloudbuild.yaml pushes images to."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "render_topic" {
  description = "Topic of render tasks (TASKKIT_TOPIC)."
  value       = google_pubsub_topic.render_jobs.name
}

output "dead_letter_topic" {
  description = "Dead-letter topic of the render subscriptions."
  value       = google_pubsub_topic.dead_letter.name
}

output "push_audience" {
  description = "Audience of every OIDC token sent to the worker (TASKKIT_PUSH_AUDIENCE)."
  value       = local.push_audience
}

output "service_accounts" {
  description = "Emails of the project's service accounts."
  value = {
    api      = google_service_account.api.email
    worker   = google_service_account.worker.email
    push     = google_service_account.push.email
    deployer = google_service_account.deployer.email
  }
}

output "firebase_web_config" {
  description = "Firebase web config for building the SPA (none of it is secret)."
  value = {
    apiKey            = data.google_firebase_web_app_config.spa.api_key
    authDomain        = data.google_firebase_web_app_config.spa.auth_domain
    projectId         = var.project_id
    storageBucket     = google_storage_bucket.main.name
    appId             = google_firebase_web_app.spa.app_id
    messagingSenderId = data.google_firebase_web_app_config.spa.messaging_sender_id
  }
}

output "build_source_bucket" {
  description = "Bucket for `gcloud builds submit --gcs-source-staging-dir gs://<this>/source`."
  value       = google_storage_bucket.build_source.name
}
