# Terraform and provider versions. Cross-variable validation (var.max_delivery_attempts checked
# against var.taskkit_max_attempts) needs Terraform 1.9 or later.
terraform {
  required_version = ">= 1.9"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.20, < 8.0"
    }
    # Firebase project, web app and the Firebase view of the bucket exist only in the beta provider.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = ">= 6.20, < 8.0"
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
