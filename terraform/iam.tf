# Identities and every role they hold, in one file so the grants can be reviewed at once.
# Least privilege: roles are granted on the narrowest resource that takes IAM (a topic, a
# subscription, a service, a service account, a bucket with a condition on the object name).
# Only Firestore (datastore.user) and the Firebase deploy roles are project-wide, because those
# services have no finer IAM resource. No identity holds a primitive role (owner/editor/viewer).

resource "google_service_account" "api" {
  account_id   = "api-sa"
  display_name = "Cloud Run api"
  description  = "Runs the api: verifies users, reserves credits, writes jobs, publishes render tasks, signs URLs."
}

resource "google_service_account" "worker" {
  account_id   = "worker-sa"
  display_name = "Cloud Run worker"
  description  = "Runs the worker: renders, writes outputs, settles jobs, publishes fan-out tasks, runs the sweep."
}

resource "google_service_account" "push" {
  account_id   = "pubsub-push-sa"
  display_name = "Worker invoker (Pub/Sub push and Cloud Scheduler)"
  description  = "The only identity allowed to invoke the worker; its OIDC token is checked by taskkit."
}

resource "google_service_account" "deployer" {
  account_id   = "deployer-sa"
  display_name = "Cloud Build deployer"
  description  = "Runs deploy/cloudbuild.yaml: pushes images, deploys new revisions, deploys Hosting and rules."
}

locals {
  object_prefix = "projects/_/buckets/${local.bucket_name}/objects/"

  # Conditions on object names. A bucket with uniform access is required for IAM conditions.
  cond_uploads = "resource.name.startsWith(\"${local.object_prefix}uploads/\")"
  cond_outputs = "resource.name.startsWith(\"${local.object_prefix}jobs/\")"
  # Voices (OpenUtau voicebank .zip files or voice folders) a worker fetches into its cache on first use.
  cond_voices = "resource.name.startsWith(\"${local.object_prefix}voices/\")"
  cond_worker_writes = join(" || ", [
    "resource.name.startsWith(\"${local.object_prefix}intermediate/\")",
    "resource.name.startsWith(\"${local.object_prefix}jobs/\")",
    "resource.name.startsWith(\"${local.object_prefix}cache/\")",
  ])
  # Listing is checked against the bucket, not an object, so a prefix condition alone would
  # refuse every list call; the worker lists intermediate/ and cache/ and may see object names.
  cond_bucket_list = "resource.type == \"storage.googleapis.com/Bucket\""
}

# ---------------------------------------------------------------- api-sa

# Signed PUT URLs for uploads are exercised as api-sa, so api-sa needs create on uploads/ and
# nothing else there: objectCreator cannot overwrite or delete, which keeps uploads create-only.
resource "google_storage_bucket_iam_member" "api_create_uploads" {
  bucket = google_storage_bucket.main.name
  role   = "roles/storage.objectCreator"
  member = google_service_account.api.member

  condition {
    title       = "uploads-only"
    description = "Create objects under uploads/ (signed PUT URLs)."
    expression  = local.cond_uploads
  }
}

# Signed GET URLs for outputs are exercised as api-sa: it needs read on jobs/. It also reads
# uploads/ to check that a score was really uploaded before it reserves credits for a job.
resource "google_storage_bucket_iam_member" "api_read_outputs_and_uploads" {
  bucket = google_storage_bucket.main.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.api.member

  condition {
    title       = "outputs-and-uploads"
    description = "Read objects under jobs/ (signed GET URLs) and uploads/ (existence checks)."
    expression  = "${local.cond_outputs} || ${local.cond_uploads}"
  }
}

# A user deletes their songs and account, and exports their data, through the api
# (singer_tasks/jobs/account.py): it lists a user's objects and deletes them. A custom role holds only
# list and delete: objectUser would also let api-sa overwrite scores, which uploads must never allow.
resource "google_project_iam_custom_role" "user_data_eraser" {
  project     = var.project_id
  role_id     = "singerUserDataEraser"
  title       = "Singer user data eraser"
  description = "List and delete a user's scores, outputs and intermediates (song and account deletion, export)."
  permissions = ["storage.objects.delete", "storage.objects.list"]
}

resource "google_storage_bucket_iam_member" "api_erase_user_data" {
  bucket = google_storage_bucket.main.name
  role   = google_project_iam_custom_role.user_data_eraser.name
  member = google_service_account.api.member

  condition {
    title       = "user-data-prefixes"
    description = "Delete under uploads/, jobs/ and intermediate/; list (checked on the bucket)."
    expression = join(" || ", [
      local.cond_uploads,
      local.cond_outputs,
      "resource.name.startsWith(\"${local.object_prefix}intermediate/\")",
      local.cond_bucket_list,
    ])
  }
}

# There is no key file on Cloud Run: V4 signing goes through IAM signBlob as api-sa itself.
resource "google_service_account_iam_member" "api_sign_blob_as_itself" {
  service_account_id = google_service_account.api.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.api.member
}

# The api publishes render tasks (kit.send_task) and nothing else.
resource "google_pubsub_topic_iam_member" "api_publish_render" {
  topic  = google_pubsub_topic.render_jobs.name
  role   = "roles/pubsub.publisher"
  member = google_service_account.api.member
}

resource "google_pubsub_topic_iam_member" "api_publish_gpu" {
  count = var.enable_gpu_tier ? 1 : 0

  topic  = google_pubsub_topic.gpu[0].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.api.member
}

# Firestore has no per-collection IAM: read/write of documents is project-wide by nature.
# datastore.user has no admin permissions (no index, database or IAM changes).
resource "google_project_iam_member" "api_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.api.member
}

# Job creation and uploads check that the caller's ID token was not revoked
# (verify_id_token(check_revoked=True) reads the user's tokensValidAfterTime): read-only on users.
resource "google_project_iam_member" "api_firebase_auth_viewer" {
  project = var.project_id
  role    = "roles/firebaseauth.viewer"
  member  = google_service_account.api.member
}

# DELETE /v1/me revokes the user's sessions and deletes their Firebase Auth user
# (singer_tasks/jobs/account.py). roles/firebaseauth.admin would also let the API create users and
# change sign-in settings: a custom role holds only the two writes deletion needs.
resource "google_project_iam_custom_role" "account_deleter" {
  project     = var.project_id
  role_id     = "singerAccountDeleter"
  title       = "Singer account deleter"
  description = "Revoke a user's sessions and delete the user (account deletion by its owner)."
  permissions = ["firebaseauth.users.delete", "firebaseauth.users.update"]
}

resource "google_project_iam_member" "api_account_deleter" {
  project = var.project_id
  role    = google_project_iam_custom_role.account_deleter.name
  member  = google_service_account.api.member
}

# ---------------------------------------------------------------- worker-sa

resource "google_storage_bucket_iam_member" "worker_read_uploads" {
  bucket = google_storage_bucket.main.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.worker.member

  condition {
    title       = "uploads-and-voices-read"
    description = "Read uploaded scores and the voices under voices/ (and list, which is checked on the bucket)."
    expression  = "${local.cond_uploads} || ${local.cond_voices} || ${local.cond_bucket_list}"
  }
}

# objectUser (get, list, create, overwrite, delete; no IAM or bucket settings) on the worker's own
# prefixes: it writes attempt-specific intermediates and outputs, reads and writes cached phrases,
# and may delete intermediates after assembly rather than wait for the lifecycle rule.
resource "google_storage_bucket_iam_member" "worker_write_own_prefixes" {
  bucket = google_storage_bucket.main.name
  role   = "roles/storage.objectUser"
  member = google_service_account.worker.member

  condition {
    title       = "worker-prefixes"
    description = "Read and write objects under intermediate/, jobs/ and cache/."
    expression  = local.cond_worker_writes
  }
}

# Fan-out (one task per phrase, then the chord callback) and the sweep's republishing.
resource "google_pubsub_topic_iam_member" "worker_publish_render" {
  topic  = google_pubsub_topic.render_jobs.name
  role   = "roles/pubsub.publisher"
  member = google_service_account.worker.member
}

resource "google_pubsub_topic_iam_member" "worker_publish_gpu" {
  count = var.enable_gpu_tier ? 1 : 0

  topic  = google_pubsub_topic.gpu[0].name
  role   = "roles/pubsub.publisher"
  member = google_service_account.worker.member
}

resource "google_project_iam_member" "worker_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.worker.member
}

resource "google_storage_bucket_iam_member" "worker_read_voices" {
  count = var.voices_bucket != "" ? 1 : 0

  bucket = var.voices_bucket
  role   = "roles/storage.objectViewer"
  member = google_service_account.worker.member
}

# Push needs no subscriber role: Pub/Sub delivers to the worker; the worker never pulls.

# ---------------------------------------------------------------- pubsub-push-sa and the service agent

# Pub/Sub mints the push OIDC token as pubsub-push-sa; granted on that account only, not the project.
resource "google_service_account_iam_member" "pubsub_agent_mints_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# Dead-lettering: the service agent republishes to the dead-letter topic and acks the source.
resource "google_pubsub_topic_iam_member" "pubsub_agent_publish_dead_letter" {
  topic  = google_pubsub_topic.dead_letter.name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_ack_render" {
  subscription = google_pubsub_subscription.render_push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_ack_gpu" {
  count = var.enable_gpu_tier ? 1 : 0

  subscription = google_pubsub_subscription.gpu_push[0].name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}

# ---------------------------------------------------------------- deployer-sa (Cloud Build)

# Deploy new revisions of the existing services only (cannot create or delete services).
resource "google_cloud_run_v2_service_iam_member" "deployer_api" {
  name     = google_cloud_run_v2_service.api.name
  location = google_cloud_run_v2_service.api.location
  role     = "roles/run.developer"
  member   = google_service_account.deployer.member
}

resource "google_cloud_run_v2_service_iam_member" "deployer_worker" {
  name     = google_cloud_run_v2_service.worker.name
  location = google_cloud_run_v2_service.worker.location
  role     = "roles/run.developer"
  member   = google_service_account.deployer.member
}

resource "google_cloud_run_v2_service_iam_member" "deployer_worker_gpu" {
  count = var.enable_gpu_tier ? 1 : 0

  name     = google_cloud_run_v2_service.worker_gpu[0].name
  location = google_cloud_run_v2_service.worker_gpu[0].location
  role     = "roles/run.developer"
  member   = google_service_account.deployer.member
}

# A revision runs as api-sa or worker-sa; deploying one requires actAs on that account only.
resource "google_service_account_iam_member" "deployer_acts_as_api" {
  service_account_id = google_service_account.api.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer.member
}

resource "google_service_account_iam_member" "deployer_acts_as_worker" {
  service_account_id = google_service_account.worker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.deployer.member
}

resource "google_artifact_registry_repository_iam_member" "deployer_push_images" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = google_service_account.deployer.member
}

# Firebase Hosting and security rules have no resource-level IAM; these roles cover only them.
resource "google_project_iam_member" "deployer_firebase_hosting" {
  project = var.project_id
  role    = "roles/firebasehosting.admin"
  member  = google_service_account.deployer.member
}

resource "google_project_iam_member" "deployer_firebase_rules" {
  project = var.project_id
  role    = "roles/firebaserules.admin"
  member  = google_service_account.deployer.member
}

# A build running as a user-managed account must write its own logs.
resource "google_project_iam_member" "deployer_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = google_service_account.deployer.member
}
