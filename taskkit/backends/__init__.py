"""Backend families: `local` (embedded: SQLite, a folder, a local push dispatcher) and `gcp`.

The family is chosen by `Settings.backend`; the gcp family is imported only when chosen, so a local
run never imports the Google client libraries.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from taskkit.backends.base import BlobStore as BlobStore
from taskkit.backends.base import Broker, DocumentStore

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
    """The HMAC key for local signed URLs: from settings, else one kept in the data folder."""
    if settings.signing_secret:
        return settings.signing_secret.encode()
    path = Path(settings.data_dir) / "signing.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written aside, then linked into place: link is create-only, so concurrent processes agree on
        # one key and nobody reads a half-written file.
        scratch = path.with_name(f".signing.{secrets.token_hex(4)}")
        scratch.write_text(secrets.token_hex(32))
        try:
            os.link(scratch, path)
        except FileExistsError:
            pass
        finally:
            scratch.unlink()
    return path.read_text().strip().encode()
