# Cloud Run v2 services `api` and `worker` (and the optional GPU worker), their invokers, and the
# image repository.
#
# Image ownership: terraform creates each service with a first image and then ignores the image
# (lifecycle.ignore_changes). deploy/cloudbuild.yaml is the one owner of the running image: it
# deploys new revisions with `gcloud run services update --image`, which changes nothing else.
# Every other setting (env, sizing, scaling, identity) is terraform's; Cloud Build never sets it.

# Environment: taskkit reads TASKKIT_<Settings field> (taskkit/settings.py), the singing service
# SINGER_<ServiceSettings field> (singer_tasks/service.py); the worker gets the push
# subscription's real settings so taskkit's start-up check sees what Pub/Sub will do.
# Written out in full (no merge) so that tests/infra can read every name and value.
locals {
  api_env = {
    TASKKIT_BACKEND                = "gcp"
    TASKKIT_PROJECT                = var.project_id
    TASKKIT_BUCKET                 = local.bucket_name
    TASKKIT_DEFAULT_TOPIC          = local.render_topic
    TASKKIT_SIGNER_SERVICE_ACCOUNT = google_service_account.api.email
    TASKKIT_FIREBASE_PROJECT_ID    = var.project_id
    SINGER_DEFAULT_CREDITS         = tostring(var.singer_default_credits)
    SINGER_MAX_JOBS_IN_FLIGHT      = tostring(var.singer_max_jobs_in_flight)
    SINGER_DEFAULT_VOICE           = var.singer_voice
    SINGER_UPLOAD_RETENTION_DAYS   = tostring(var.upload_retention_days)
    SINGER_JOB_RETENTION_DAYS      = tostring(var.job_retention_days)
    # Browser origins allowed to call the api: Firebase Hosting's and any custom domain of the SPA.
    SINGER_CORS_ORIGINS = join(",", concat(local.hosting_origins, var.cors_origins))
    # With the GPU tier on, final renders start on its topic (singer_tasks/kit.py render_topic); off: "".
    SINGER_GPU_TOPIC = var.enable_gpu_tier ? local.gpu_topic : ""
  }

  worker_env = {
    TASKKIT_BACKEND               = "gcp"
    TASKKIT_PROJECT               = var.project_id
    TASKKIT_BUCKET                = local.bucket_name
    TASKKIT_DEFAULT_TOPIC         = local.render_topic
    TASKKIT_ACK_DEADLINE_S        = tostring(var.ack_deadline_s)
    TASKKIT_MAX_DELIVERY_ATTEMPTS = tostring(var.max_delivery_attempts)
    TASKKIT_MIN_BACKOFF_S         = tostring(var.retry_min_backoff_s)
    TASKKIT_MAX_BACKOFF_S         = tostring(var.retry_max_backoff_s)
    TASKKIT_PUSH_AUDIENCE         = local.push_audience
    TASKKIT_PUSH_SERVICE_ACCOUNT  = google_service_account.push.email
    # The same cost settings as the api: it reserves credits, the worker charges them.
    SINGER_DEFAULT_CREDITS    = tostring(var.singer_default_credits)
    SINGER_MAX_JOBS_IN_FLIGHT = tostring(var.singer_max_jobs_in_flight)
    SINGER_DEFAULT_VOICE      = var.singer_voice
    # A job's phrase tasks and assembly stay on the tier its render task started on.
    SINGER_GPU_TOPIC = var.enable_gpu_tier ? local.gpu_topic : ""
  }

  # Only when voices come from a mounted bucket instead of the image.
  voices_env = var.voices_bucket != "" ? { SINGER_VOICES_DIR = "/voices" } : {}

  # Several renders at once on a CPU worker: each pins torch and ONNX Runtime to its share of the vCPUs.
  worker_share_env = var.worker_concurrency > 1 ? {
    TASKKIT_WORKER_CPUS = tostring(max(1, floor(tonumber(var.worker_cpu) / var.worker_concurrency)))
  } : {}
}

resource "google_artifact_registry_repository" "images" {
  # checkov:skip=CKV_GCP_84: Images hold only public code and the built-in voice; google-managed encryption is enough for scores and rendered audio; customer keys would add KMS cost, key rotation and KMS grants for every service agent, for no requirement we have.
  repository_id = "singer"
  location      = var.region
  format        = "DOCKER"
  description   = "api and worker images built by deploy/cloudbuild.yaml"
  labels        = local.labels

  # Keep the last images for rollback, drop the rest (images are a few hundred MB each).
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.required]
}

# ---------------------------------------------------------------- api

resource "google_cloud_run_v2_service" "api" {
  name                = "api"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false
  labels              = local.labels

  template {
    service_account                  = google_service_account.api.email
    timeout                          = "${var.api_timeout_s}s"
    max_instance_request_concurrency = var.api_concurrency

    scaling {
      min_instance_count = 0
      max_instance_count = var.api_max_instances
    }

    containers {
      image = var.api_image

      resources {
        limits = {
          cpu    = var.api_cpu
          memory = var.api_memory
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = local.api_env
        content {
          name  = env.key
          value = env.value
        }
      }

    }
  }

  lifecycle {
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_project_service.required]
}

# The api is public on purpose, through this one binding and nothing else: browsers call it
# directly and it authenticates every user itself with Firebase ID tokens (firebase-admin).
resource "google_cloud_run_v2_service_iam_member" "api_public" {
  name     = google_cloud_run_v2_service.api.name
  location = google_cloud_run_v2_service.api.location
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# ---------------------------------------------------------------- worker

resource "google_cloud_run_v2_service" "worker" {
  name                = "worker"
  location            = var.region
  deletion_protection = false
  labels              = local.labels
  # Pub/Sub push and Cloud Scheduler from this project count as internal traffic; nothing else
  # needs to reach the worker over the network.
  ingress          = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  custom_audiences = [local.push_audience]

  template {
    service_account = google_service_account.worker.email
    # Under push the ack deadline is the request timeout: a longer timeout would let Pub/Sub
    # redeliver a task that is still running (docs/push-contract.md).
    timeout = "${var.ack_deadline_s}s"
    # One render per instance by default: torch gets every CPU, and a crash takes one task with it;
    # worker_concurrency > 1 trades time per phrase for phrases per vCPU-second (variables.tf).
    max_instance_request_concurrency = var.worker_concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"

    scaling {
      min_instance_count = 0
      max_instance_count = var.worker_max_instances
    }

    containers {
      image = var.worker_image

      resources {
        limits = {
          cpu    = var.worker_cpu
          memory = var.worker_memory
        }
        # Request-based billing: CPU is throttled after the response, which is safe because
        # taskkit answers the push only when the task has finished.
        cpu_idle          = true
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = merge(local.worker_env, local.voices_env, local.worker_share_env)
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "volume_mounts" {
        for_each = var.voices_bucket != "" ? [1] : []
        content {
          name       = "voices"
          mount_path = "/voices"
        }
      }
    }

    dynamic "volumes" {
      for_each = var.voices_bucket != "" ? [1] : []
      content {
        name = "voices"
        gcs {
          bucket    = var.voices_bucket
          read_only = true
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_project_service.required]
}

# The worker is invocable only by the push identity (render push, dead-letter push, sweep).
resource "google_cloud_run_v2_service_iam_member" "worker_invoker_push" {
  name     = google_cloud_run_v2_service.worker.name
  location = google_cloud_run_v2_service.worker.location
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}

# ---------------------------------------------------------------- GPU worker (off by default)

resource "google_cloud_run_v2_service" "worker_gpu" {
  count = var.enable_gpu_tier ? 1 : 0

  name                = "worker-gpu"
  location            = var.region
  deletion_protection = false
  labels              = local.labels
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  custom_audiences    = [local.gpu_push_audience]

  template {
    service_account                  = google_service_account.worker.email
    timeout                          = "${var.ack_deadline_s}s"
    max_instance_request_concurrency = 1
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"
    gpu_zonal_redundancy_disabled    = true

    node_selector {
      accelerator = var.gpu_type
    }

    scaling {
      min_instance_count = 0
      max_instance_count = var.gpu_worker_max_instances
    }

    containers {
      image = var.worker_gpu_image

      resources {
        limits = {
          cpu              = var.gpu_worker_cpu
          memory           = var.gpu_worker_memory
          "nvidia.com/gpu" = "1"
        }
        # Cloud Run GPUs require CPU always allocated.
        cpu_idle          = false
        startup_cpu_boost = true
      }

      dynamic "env" {
        for_each = merge(local.worker_env, local.voices_env, { TASKKIT_PUSH_AUDIENCE = local.gpu_push_audience })
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "volume_mounts" {
        for_each = var.voices_bucket != "" ? [1] : []
        content {
          name       = "voices"
          mount_path = "/voices"
        }
      }
    }

    dynamic "volumes" {
      for_each = var.voices_bucket != "" ? [1] : []
      content {
        name = "voices"
        gcs {
          bucket    = var.voices_bucket
          read_only = true
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_project_service.required]
}

resource "google_cloud_run_v2_service_iam_member" "worker_gpu_invoker_push" {
  count = var.enable_gpu_tier ? 1 : 0

  name     = google_cloud_run_v2_service.worker_gpu[0].name
  location = google_cloud_run_v2_service.worker_gpu[0].location
  role     = "roles/run.invoker"
  member   = google_service_account.push.member
}
