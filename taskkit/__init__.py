"""taskkit: a small Celery-style task framework for Pub/Sub push, with embedded and Google Cloud backends."""
