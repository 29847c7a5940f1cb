"""The gcp backend family: Firestore, Pub/Sub and Cloud Storage, built from `Settings`.

Importing this package imports no Google library: each factory imports its client when called, so a
process on the local family never loads them. The standard emulator variables
(`FIRESTORE_EMULATOR_HOST`, `PUBSUB_EMULATOR_HOST`, `STORAGE_EMULATOR_HOST`) point the clients at
Google's emulators and fake-gcs-server; without them the clients use Application Default Credentials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from taskkit.errors import ConfigError
from taskkit.settings import require

if TYPE_CHECKING:
    from taskkit.backends.base import BlobStore, Broker, DocumentStore
    from taskkit.backends.gcp.tokens import FirebaseTokenVerifier
    from taskkit.settings import Settings

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def _default_credentials() -> Any:
    import google.auth
    import google.auth.exceptions

    try:
        credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
    except google.auth.exceptions.DefaultCredentialsError as e:
        raise ConfigError(
            "no Google credentials found: run on Google Cloud, set GOOGLE_APPLICATION_CREDENTIALS, "
            "or point the *_EMULATOR_HOST variables at emulators"
        ) from e
    return credentials


def create_document_store(settings: Settings) -> DocumentStore:
    """The Firestore document store of `settings.project`."""
    from google.cloud import firestore

    from taskkit.backends.gcp.firestore import FirestoreDocumentStore

    project = require(settings.project, "TASKKIT_PROJECT")
    # The emulator needs no credentials; the client finds them itself when FIRESTORE_EMULATOR_HOST is set.
    credentials = None if settings.firestore_emulator_host else _default_credentials()
    client = firestore.Client(project=project, credentials=credentials, database=settings.firestore_database)
    return FirestoreDocumentStore(
        client,
        transaction_attempts=settings.transaction_attempts,
        transaction_deadline_s=settings.transaction_deadline_s,
    )


def create_broker(settings: Settings) -> Broker:
    """A Pub/Sub publisher for topics of `settings.project`."""
    from google.cloud.pubsub_v1 import PublisherClient

    from taskkit.backends.gcp.pubsub import PubSubBroker

    project = require(settings.project, "TASKKIT_PROJECT")
    credentials = None if settings.pubsub_emulator_host else _default_credentials()
    publisher = PublisherClient(credentials=credentials)
    return PubSubBroker(
        publisher,
        project,
        publish_timeout_s=settings.pubsub_publish_timeout_s,
        attempts=settings.pubsub_publish_attempts,
    )


def create_blob_store(settings: Settings) -> BlobStore:
    """The Cloud Storage blob store of `settings.bucket`, signing as described in `gcp.signing`."""
    import google.auth.credentials
    from google.cloud.storage import Client as StorageClient

    from taskkit.backends.gcp.gcs import GCS_ENDPOINT, GcsBlobStore
    from taskkit.backends.gcp.signing import IamBlobSigner, IamSigningCredentials

    project = require(settings.project, "TASKKIT_PROJECT")
    bucket = require(settings.bucket, "TASKKIT_BUCKET")
    emulator = settings.storage_emulator_host
    if emulator:
        credentials: Any = google.auth.credentials.AnonymousCredentials()  # type: ignore[no-untyped-call]
        endpoint = emulator if "://" in emulator else f"http://{emulator}"
    else:
        credentials = _default_credentials()
        endpoint = GCS_ENDPOINT
    client = StorageClient(project=project, credentials=credentials)
    signing: Any = None
    if settings.signer_service_account:
        # Cloud Run has no key file: sign through IAM signBlob as the configured service account.
        signer = IamBlobSigner(settings.signer_service_account, credentials, endpoint=settings.iam_credentials_endpoint)
        signing = IamSigningCredentials(signer, settings.signer_service_account)
    elif isinstance(credentials, google.auth.credentials.Signing):
        signing = credentials  # a service-account key: sign locally
    return GcsBlobStore(client, bucket, signing_credentials=signing, endpoint=endpoint)


def create_firebase_verifier(settings: Settings) -> FirebaseTokenVerifier:
    """The Firebase ID-token verifier for `settings.firebase_project_id` (default: `settings.project`)."""
    from taskkit.backends.gcp.tokens import FirebaseTokenVerifier

    project = require(settings.firebase_project_id or settings.project, "TASKKIT_FIREBASE_PROJECT_ID")
    return FirebaseTokenVerifier(project)
