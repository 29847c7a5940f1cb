"""Backend families: `local` (embedded: SQLite, a folder, a local push dispatcher) and `gcp`.

The family is chosen by `Settings.backend`; the gcp family is imported only when chosen, so a local
run never imports the Google client libraries.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from taskkit.backends.base import BlobStore as BlobStore
from taskkit.backends.base import Broker, DocumentStore
from taskkit.backends.local.keys import signing_key

if TYPE_CHECKING:
    from taskkit.settings import Settings


def build_document_store(settings: Settings) -> DocumentStore:
    """The document store of the configured family."""
    if settings.backend == "gcp":
        from taskkit.backends.gcp import create_document_store

        return create_document_store(settings)
    from taskkit.backends.local.documents import LocalDocumentStore

    return LocalDocumentStore(settings.data_dir / "documents.sqlite3")


def build_broker(settings: Settings) -> Broker:
    """The broker (publisher) of the configured family."""
    if settings.backend == "gcp":
        from taskkit.backends.gcp import create_broker

        return create_broker(settings)
    from taskkit.backends.local.broker import LocalBroker

    return LocalBroker(settings.data_dir / "broker.sqlite3")


def build_blob_store(settings: Settings) -> BlobStore:
    """The blob store of the configured family."""
    if settings.backend == "gcp":
        from taskkit.backends.gcp import create_blob_store

        return create_blob_store(settings)
    from taskkit.backends.local.blobs import LocalBlobStore

    return LocalBlobStore(settings.data_dir / "blobs", local_signing_secret(settings), settings.public_url)


def local_signing_secret(settings: Settings) -> bytes:
    """The HMAC key for local signed URLs: from settings, else one kept (0600, in a 0700 folder) in the data folder."""
    return signing_key(Path(settings.data_dir), settings.signing_secret)
