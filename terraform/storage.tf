# The one Storage bucket. Paths (docs/architecture.md): uploads/{uid}/..., intermediate/{jobId}/...,
# jobs/{jobId}/output.wav, cache/phrases/... Nobody reads it directly from a browser except
# through short-lived signed URLs issued by the api (and Firebase SDK uploads under storage.rules).

# Skipped findings, each with its reason:
#trivy:ignore:AVD-GCP-0066 Google-managed encryption is enough for scores and rendered audio; customer keys would add KMS cost, key rotation and KMS grants for every service agent, for no requirement we have.
resource "google_storage_bucket" "main" {
  # checkov:skip=CKV_GCP_62: Usage logs need a second bucket (which itself would need logging); Cloud Audit Logs record access when needed.
  # checkov:skip=CKV_GCP_78: Soft delete (7 days, below) gives recovery; versioning would keep every overwritten cache and intermediate object.
  name     = local.bucket_name
  location = var.bucket_location
  labels   = local.labels

  # IAM only (no ACLs): required for the IAM conditions on object prefixes in iam.tf.
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Deleted or overwritten objects stay recoverable for 7 days (see the checkov skip on
  # versioning in the README: soft delete gives recovery without keeping every old version).
  soft_delete_policy {
    retention_duration_seconds = 604800
  }

  # Browsers PUT scores to signed upload URLs and fetch the WAV (to draw the waveform) from signed
  # GET URLs, from the Firebase Hosting origins and any extra origins given.
  cors {
    origin          = concat(local.hosting_origins, var.cors_origins)
    method          = ["GET", "HEAD", "PUT"]
    response_header = ["Content-Type", "x-goog-content-length-range", "x-goog-if-generation-match"]
    max_age_seconds = 3600
  }

  # Intermediates are only needed while their job runs. GCS lifecycle prefixes are literal (no
  # wildcards), which is why they sit under the fixed prefix intermediate/ (docs/architecture.md).
  lifecycle_rule {
    condition {
      age            = var.intermediate_retention_days
      matches_prefix = ["intermediate/"]
    }
    action {
      type = "Delete"
    }
  }

  # Phrase cache: deleted a fixed time after creation (age), not after last use. Age keeps a cache
  # hit a pure read (a last-use rule needs a customTime write on every hit), bounds storage for
  # certain, and costs at most one re-render of a still-used phrase per period; entries made by an
  # older model version are never hit again anyway (the model version is part of the key).
  lifecycle_rule {
    condition {
      age            = var.phrase_cache_retention_days
      matches_prefix = ["cache/phrases/"]
    }
    action {
      type = "Delete"
    }
  }

  # User data is not kept for ever: uploaded scores and rendered songs are deleted a configurable
  # time after creation (the api's settings name the same periods, see run.tf).
  lifecycle_rule {
    condition {
      age            = var.upload_retention_days
      matches_prefix = ["uploads/"]
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age            = var.job_retention_days
      matches_prefix = ["jobs/"]
    }
    action {
      type = "Delete"
    }
  }

  # A browser that stops halfway through an upload leaves parts behind.
  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  depends_on = [google_project_service.required]
}

# Makes the bucket a Firebase Storage bucket so storage.rules (deployed by Cloud Build) apply to
# Firebase SDK clients. Signed URLs and service accounts are not subject to those rules.
resource "google_firebase_storage_bucket" "main" {
  provider  = google-beta
  project   = var.project_id
  bucket_id = google_storage_bucket.main.name

  depends_on = [google_firebase_project.this]
}

# Staging bucket for `gcloud builds submit --gcs-source-staging-dir`: a build that runs as
# deployer-sa reads its source from here (the default staging bucket would need a grant made by
# hand after the first submit). Sources are deleted after a week.
#trivy:ignore:AVD-GCP-0066 Build sources are the public repository's content; Google-managed encryption is enough.
resource "google_storage_bucket" "build_source" {
  # checkov:skip=CKV_GCP_62: Short-lived copies of the repository; access is already in Cloud Build's own logs.
  # checkov:skip=CKV_GCP_78: Sources are re-uploaded for every build; versions would only add cost.
  name     = "${var.project_id}-build-source"
  location = var.bucket_location
  labels   = local.labels

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.required]
}

resource "google_storage_bucket_iam_member" "deployer_read_build_source" {
  bucket = google_storage_bucket.build_source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.deployer.member
}
