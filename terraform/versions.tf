# Terraform and provider versions. Cross-variable validation (var.max_delivery_attempts checked
# against var.taskkit_max_attempts) needs Terraform 1.9 or later.
#
# Provider floor 6.28: the GPU worker's template.node_selector and gpu_zonal_redundancy_disabled first
# appear there. Ceiling 7.0: every block here is checked offline against the 6.28 schema
# (tests/infra/test_terraform_schema.py); 7.0 removed and renamed arguments, so moving to it is a
# deliberate change made together with that check.
terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.28, < 7.0"
    }
    # Firebase project, web app and the Firebase view of the bucket exist only in the beta provider.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.28, < 7.0"
    }
  }

  # State lives in a bucket made once by hand (README, "Apply order"); pass it with
  # `terraform init -backend-config="bucket=<state bucket>"`.
  backend "gcs" {
    prefix = "singer/terraform"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
  # Budgets and Identity Platform bill their API calls to the project named on the resource.
  user_project_override = true
  billing_project       = var.project_id
}

provider "google-beta" {
  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id
}

data "google_project" "this" {
  project_id = var.project_id
}
