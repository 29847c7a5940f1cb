# Firestore (native mode): the database, the composite indexes the api's and taskkit's queries
# need, and TTL policies on taskkit's lease and dead-letter records. firestore.indexes.json at the
# repository root lists the same indexes for the emulator and the Firebase CLI; a test keeps the
# two equal. Terraform owns the indexes in production (Cloud Build deploys rules, not indexes).

resource "google_firestore_database" "default" {
  project     = var.project_id
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"
  # Lock-based transactions: the lease and credit transactions contend on single documents.
  concurrency_mode                  = "PESSIMISTIC"
  app_engine_integration_mode       = "DISABLED"
  point_in_time_recovery_enablement = "POINT_IN_TIME_RECOVERY_ENABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  # Never delete the data with `terraform destroy`.
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.required]
}

locals {
  # collection => ordered list of [field, order]. Queries served:
  #   jobs_by_user_recent: jobs where userId == X order by createdAt desc (the jobs list)
  #   jobs_by_user_status: jobs where userId == X and status in [...] (jobs in flight, a limit)
  #   jobs_stale_pending:  jobs where status == "pending" and updatedAt < T (the sweep)
  #   leases_by_chord:     taskkit_leases where chord == X and status == "done" (chord accounting)
  firestore_indexes = {
    jobs_by_user_recent = {
      collection = "jobs"
      fields     = [["userId", "ASCENDING"], ["createdAt", "DESCENDING"]]
    }
    jobs_by_user_status = {
      collection = "jobs"
      fields     = [["userId", "ASCENDING"], ["status", "ASCENDING"]]
    }
    jobs_stale_pending = {
      collection = "jobs"
      fields     = [["status", "ASCENDING"], ["updatedAt", "ASCENDING"]]
    }
    leases_by_chord = {
      collection = "taskkit_leases"
      fields     = [["chord", "ASCENDING"], ["status", "ASCENDING"]]
    }
  }

  # TTL fields: records expire by themselves (docs/push-contract.md, "Nothing is stuck for ever").
  # Firestore TTL deletes only documents whose expireAt holds a timestamp value.
  firestore_ttl_fields = {
    leases       = "taskkit_leases"
    dead_letters = "taskkit_dead_letters"
    chords       = "taskkit_chords"
    mutexes      = "taskkit_mutexes"
    shares       = "shares" # a song's share link, kept until it expires (singer_tasks/jobs/shares.py)
  }
}

resource "google_firestore_index" "composite" {
  for_each = local.firestore_indexes

  project     = var.project_id
  database    = google_firestore_database.default.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value[0]
      order      = fields.value[1]
    }
  }
}

resource "google_firestore_field" "ttl" {
  for_each = local.firestore_ttl_fields

  project    = var.project_id
  database   = google_firestore_database.default.name
  collection = each.value
  field      = "expireAt"

  ttl_config {}

  # No single-field indexes on the TTL timestamp: nothing queries it, and an index on an
  # ever-increasing timestamp only adds write cost and hotspots.
  index_config {}
}
