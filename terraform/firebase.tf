# Firebase on the same project: the Firebase project itself, Firebase Auth (Identity Platform)
# sign-in settings and the web app whose config the SPA is built with. Security rules and Hosting
# content are deployed by Cloud Build (deploy/cloudbuild.yaml) from firebase.json, not here.

resource "google_firebase_project" "this" {
  provider = google-beta
  project  = var.project_id

  depends_on = [google_project_service.required]
}

resource "google_identity_platform_config" "auth" {
  project = var.project_id

  authorized_domains = concat(
    ["localhost", "${var.project_id}.firebaseapp.com", "${var.project_id}.web.app"],
    var.auth_authorized_domains,
  )

  sign_in {
    allow_duplicate_emails = false

    email {
      enabled           = true
      password_required = true
    }
  }

  depends_on = [google_firebase_project.this]
}

# Google sign-in needs an OAuth client made in the console; off until one is given.
resource "google_identity_platform_default_supported_idp_config" "google" {
  count = var.google_oauth_client_id != "" ? 1 : 0

  project       = var.project_id
  idp_id        = "google.com"
  enabled       = true
  client_id     = var.google_oauth_client_id
  client_secret = var.google_oauth_client_secret

  depends_on = [google_identity_platform_config.auth]
}

resource "google_firebase_web_app" "spa" {
  provider     = google-beta
  project      = var.project_id
  display_name = "AI singer"

  depends_on = [google_firebase_project.this]
}

data "google_firebase_web_app_config" "spa" {
  provider   = google-beta
  project    = var.project_id
  web_app_id = google_firebase_web_app.spa.app_id
}
