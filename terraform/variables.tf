# Inputs. Everything with a default is safe to leave alone; project_id, billing_account and
# alert_email have none on purpose.

variable "project_id" {
  description = "Google Cloud project id that holds everything (Firebase is enabled on the same project)."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Cloud Scheduler and Artifact Registry."
  type        = string
  default     = "europe-west1"
}

variable "firestore_location" {
  description = "Location of the Firestore (native mode) database: a region or a multi-region such as eur3."
  type        = string
  default     = "europe-west1"
}

variable "bucket_name" {
  description = "Name of the one Storage bucket (uploads/, intermediate/, jobs/, cache/). Empty: <project_id>-singer."
  type        = string
  default     = ""
}

variable "bucket_location" {
  description = "Location of the Storage bucket; keep it next to the region so workers read and write locally."
  type        = string
  default     = "EUROPE-WEST1"
}

variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) that the budget watches."
  type        = string
}

variable "alert_email" {
  description = "Address that receives budget and monitoring alerts."
  type        = string
}

# --- Images. Terraform only sets the first image; Cloud Build owns the running image afterwards
# (see deploy/README.md), so these matter on the first apply only.

variable "api_image" {
  description = "Image of the api service used at creation; later deploys change it outside terraform."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "worker_image" {
  description = "Image of the worker service(s) used at creation; later deploys change it outside terraform."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "worker_gpu_image" {
  description = "Image of the GPU worker used at creation (a CUDA torch build of deploy/worker.Dockerfile)."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

# --- Timing. These must satisfy taskkit's start-up check (docs/push-contract.md):
# time_limit_s + margin <= ack deadline <= 600 s and max_delivery_attempts > max_attempts.

variable "ack_deadline_s" {
  description = "Pub/Sub ack deadline of the push subscriptions; also the worker's request timeout (push ties the two)."
  type        = number
  default     = 600

  validation {
    condition     = var.ack_deadline_s >= 10 && var.ack_deadline_s <= 600 && floor(var.ack_deadline_s) == var.ack_deadline_s
    error_message = "ack_deadline_s must be a whole number of seconds from 10 to 600 (Pub/Sub's range)."
  }
}

variable "taskkit_max_attempts" {
  description = "taskkit's max_attempts for the render tasks (runs started); only used to validate max_delivery_attempts."
  type        = number
  default     = 5

  validation {
    condition     = var.taskkit_max_attempts >= 1
    error_message = "taskkit_max_attempts must be at least 1."
  }
}

variable "max_delivery_attempts" {
  description = "Pub/Sub deliveries before dead-lettering. Nacks on live leases, deadline expiries and 429s count too, so it stays well above taskkit_max_attempts."
  type        = number
  default     = 20

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be from 5 to 100 (Pub/Sub's range)."
  }

  # taskkit refuses to start unless max_delivery_attempts >= 2 * max_attempts (taskkit/app.py).
  validation {
    condition     = var.max_delivery_attempts >= 2 * var.taskkit_max_attempts
    error_message = "max_delivery_attempts must be at least twice taskkit_max_attempts, or Pub/Sub dead-letters work that taskkit would still retry (and taskkit refuses to start)."
  }
}

variable "retry_min_backoff_s" {
  description = "Minimum redelivery backoff of the push subscriptions, in seconds."
  type        = number
  default     = 10

  validation {
    condition     = var.retry_min_backoff_s >= 0 && var.retry_min_backoff_s <= 600
    error_message = "retry_min_backoff_s must be from 0 to 600."
  }
}

variable "retry_max_backoff_s" {
  description = "Maximum redelivery backoff of the push subscriptions, in seconds."
  type        = number
  default     = 600

  validation {
    condition     = var.retry_max_backoff_s >= 0 && var.retry_max_backoff_s <= 600
    error_message = "retry_max_backoff_s must be from 0 to 600."
  }

  validation {
    condition     = var.retry_max_backoff_s >= var.retry_min_backoff_s
    error_message = "retry_max_backoff_s must not be below retry_min_backoff_s."
  }
}

variable "dead_letter_retention_days" {
  description = "How long the inspection subscription keeps dead-lettered messages."
  type        = number
  default     = 7

  validation {
    condition     = var.dead_letter_retention_days >= 1 && var.dead_letter_retention_days <= 31
    error_message = "dead_letter_retention_days must be from 1 to 31 (Pub/Sub's retention range)."
  }
}

# --- Sizing.

variable "worker_cpu" {
  description = "vCPUs of a worker instance, shared by its worker_concurrency renders (all of them at concurrency 1)."
  type        = string
  default     = "4"
}

variable "worker_concurrency" {
  description = <<-EOT
    Phrase renders one worker instance runs at once, each with worker_cpu / worker_concurrency threads.
    1 (the default) gives every phrase all the vCPUs: the shortest time per phrase, so a song's first
    phrase plays soonest. worker_cpu (one thread per render) gives the most phrases per vCPU-second:
    1.10x on 2 cores in docs/benchmarks.md, at about 1.8x the time per phrase, and at most
    worker_max_instances x worker_concurrency renders at once.
  EOT
  type        = number
  default     = 1
  validation {
    condition     = var.worker_concurrency >= 1 && var.worker_concurrency <= 8 && floor(var.worker_concurrency) == var.worker_concurrency
    error_message = "worker_concurrency must be a whole number from 1 to 8."
  }
}

variable "worker_memory" {
  description = "Memory of a worker instance: models (~0.4 GB fp32), torch, activations and the in-memory /tmp."
  type        = string
  default     = "8Gi"
}

variable "worker_max_instances" {
  description = "Most worker instances at once; times worker_concurrency, the most renders at once."
  type        = number
  default     = 10
}

variable "api_cpu" {
  description = "vCPUs of an api instance."
  type        = string
  default     = "1"
}

variable "api_memory" {
  description = "Memory of an api instance (no torch in the api)."
  type        = string
  default     = "512Mi"
}

variable "api_max_instances" {
  description = "Most api instances at once."
  type        = number
  default     = 5
}

variable "api_concurrency" {
  description = "Requests one api instance serves at once."
  type        = number
  default     = 40
}

variable "api_timeout_s" {
  description = "Request timeout of the api service, in seconds."
  type        = number
  default     = 60
}

# --- Application settings passed as environment.

variable "singer_voice" {
  description = "Default voice (SINGER_DEFAULT_VOICE); the built-in voice needs no weights."
  type        = string
  default     = "builtin"
}

variable "singer_default_credits" {
  description = "Credits a new user starts with (SINGER_DEFAULT_CREDITS)."
  type        = number
  default     = 100
}

variable "singer_max_jobs_in_flight" {
  description = "Most unfinished jobs one user may have (SINGER_MAX_JOBS_IN_FLIGHT)."
  type        = number
  default     = 3
}

variable "voices_bucket" {
  description = "Optional bucket of voice folders, mounted read-only at /voices in the workers. Empty: voices are baked into the image."
  type        = string
  default     = ""
}

# --- Storage lifecycle.

variable "intermediate_retention_days" {
  description = "Days after which objects under intermediate/ are deleted."
  type        = number
  default     = 3

  validation {
    condition     = var.intermediate_retention_days >= 1
    error_message = "intermediate_retention_days must be at least 1 (a running job still reads its intermediates)."
  }
}

variable "phrase_cache_retention_days" {
  description = "Days after creation at which a cached phrase under cache/phrases/ is deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.phrase_cache_retention_days >= 1
    error_message = "phrase_cache_retention_days must be at least 1."
  }
}

variable "upload_retention_days" {
  description = "Days after which a user's uploaded score under uploads/ is deleted (the api's upload quota counts this period: SINGER_UPLOAD_RETENTION_DAYS)."
  type        = number
  default     = 30

  validation {
    condition     = var.upload_retention_days >= 1
    error_message = "upload_retention_days must be at least 1 (a job reads its score after creation)."
  }
}

variable "job_retention_days" {
  description = "Days after which a job's rendered files under jobs/ are deleted (SINGER_JOB_RETENTION_DAYS)."
  type        = number
  default     = 90

  validation {
    condition     = var.job_retention_days >= 1
    error_message = "job_retention_days must be at least 1."
  }
}

variable "cors_origins" {
  description = "Extra browser origins (a custom domain serving the SPA, as https://host) allowed to call the api and to PUT to signed upload URLs; the Firebase Hosting origins are always allowed."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for o in var.cors_origins : can(regex("^https?://[^/]+$", o))])
    error_message = "cors_origins entries must be origins like https://sing.example.com (scheme and host, no path or trailing slash)."
  }
}

# --- Sweep.

variable "sweep_schedule" {
  description = "Cron schedule (UTC) of the taskkit sweep."
  type        = string
  default     = "*/5 * * * *"
}

# --- Firebase Auth.

variable "auth_authorized_domains" {
  description = "Extra domains allowed to sign in (the Firebase Hosting domains and localhost are always allowed)."
  type        = list(string)
  default     = []
}

variable "google_oauth_client_id" {
  description = "OAuth client id for Google sign-in; empty leaves Google sign-in off (email/password only)."
  type        = string
  default     = ""
}

variable "google_oauth_client_secret" {
  description = "OAuth client secret for Google sign-in."
  type        = string
  default     = ""
  sensitive   = true
}

# --- Cost and alerts.

variable "monthly_budget_units" {
  description = "Monthly budget, in whole units of the billing account's currency."
  type        = number
  default     = 50
}

variable "budget_thresholds" {
  description = "Fractions of the budget at which an alert is sent (actual spend)."
  type        = list(number)
  default     = [0.5, 0.9, 1.0]
}

variable "failure_rate_threshold" {
  description = "Fraction of finished tasks that failed, over 30 minutes, above which an alert opens."
  type        = number
  default     = 0.2
}

variable "retry_rate_threshold" {
  description = "Fraction of started task attempts that were retried, over 30 minutes, above which an alert opens."
  type        = number
  default     = 0.3

  validation {
    condition     = var.retry_rate_threshold > 0 && var.retry_rate_threshold < 1
    error_message = "retry_rate_threshold must be between 0 and 1."
  }
}

variable "uptime_check_period" {
  description = "How often the api's /healthz is checked from each checker region (60s, 300s, 600s or 900s)."
  type        = string
  default     = "300s"

  validation {
    condition     = contains(["60s", "300s", "600s", "900s"], var.uptime_check_period)
    error_message = "uptime_check_period must be one of 60s, 300s, 600s, 900s."
  }
}

variable "oldest_unacked_age_threshold_s" {
  description = "Age of the oldest unacked render message above which an alert opens (work is not being drained)."
  type        = number
  default     = 1800
}

# --- GPU tier (off until the seed needs it).

variable "enable_gpu_tier" {
  description = "Create a second worker service with a GPU, with its own topic and push subscription, for final renders."
  type        = bool
  default     = false
}

variable "gpu_type" {
  description = "Cloud Run GPU type of the GPU tier."
  type        = string
  default     = "nvidia-l4"
}

variable "gpu_worker_cpu" {
  description = "vCPUs of a GPU worker instance (Cloud Run requires at least 4 with a GPU)."
  type        = string
  default     = "8"
}

variable "gpu_worker_memory" {
  description = "Memory of a GPU worker instance (Cloud Run requires at least 16Gi with a GPU)."
  type        = string
  default     = "32Gi"
}

variable "gpu_worker_max_instances" {
  description = "Most GPU worker instances at once (GPU quota is per region)."
  type        = number
  default     = 1
}
