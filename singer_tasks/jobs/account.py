"""Deleting a user's account and everything stored for them, on any taskkit backend family.

`delete_account` removes, in this order:

1. the sign-in sessions (gcp: Firebase refresh tokens revoked, so the routes that spend resources,
   which check revocation, refuse the old ID tokens: no new uploads or jobs while the rest goes);
2. the share records (`shares/`, see `shares.py`): public links stop working first;
3. each job: cancelled if still in flight (refunded, so the worker's phrase and assembly tasks skip),
   then its blobs (`jobs/{jobId}/`, `intermediate/{jobId}/`), then its document (last: the document is
   what finds the blobs);
4. the uploads (`uploads/{uid}/`: the scores and what the API read of them);
5. the credit ledger (`users/{uid}/ledger/`), the upload quota (`upload_quotas/{uid}`), then the user
   document;
6. the sign-in account itself (gcp: the Firebase Auth user), last, so that a deletion that stopped
   halfway can be run again by the same user (`DELETE /v1/me` again) or by an operator
   (`python -m singer_tasks account delete UID`) and finishes the job. Every step deletes what it
   finds and finds nothing the second time, so any number of runs leave the same result.

Not deleted: phrase audio in the content-keyed cache (`cache/phrases/`, shared by identical phrases
of any user, removed by its lifecycle rule) and taskkit's own task records (leases, chords), which
hold no user content and expire through TTL policies.

The sign-in provider is behind `AuthAccounts`: `NoAuthAccounts` for the local family (its tokens are
stateless HMACs; nothing to delete) and `FirebaseAuthAccounts` (firebase-admin, imported lazily) for
gcp. Torch-free: the API and the CLI both use it.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from singer_tasks.errors import JobNotFound, JobStateError
from singer_tasks.jobs import transitions
from singer_tasks.jobs.ledger import ledger_collection
from singer_tasks.jobs.model import (
    JOBS,
    UPLOADS,
    Job,
    job_blob_prefixes,
    job_path,
    upload_info_collection,
    user_path,
)
from singer_tasks.jobs.shares import delete_user_shares
from taskkit import Kit
from taskkit.backends.base import BlobStore, DocumentStore

# api/abuse.py's per-user upload counters (`upload_quotas/{uid}`); named here as the API cannot be
# imported from singer_tasks.
UPLOAD_QUOTAS = "upload_quotas"
PAGE = 200

__all__ = [
    "AuthAccounts",
    "DeletionReport",
    "FirebaseAuthAccounts",
    "NoAuthAccounts",
    "auth_accounts_for",
    "delete_account",
    "delete_job_data",
    "delete_job_files",
    "uploads_prefix",
]


class AuthAccounts(Protocol):
    """The sign-in provider's side of an account."""

    def revoke_sessions(self, uid: str) -> None:
        """Make the user's existing sessions fail the revocation check; an unknown uid is not an error."""

    def delete_user(self, uid: str) -> bool:
        """Delete the sign-in account; False when there was none (already deleted)."""


class NoAuthAccounts:
    """The local family: sign-in tokens are stateless HMACs, so there is no account to delete."""

    def revoke_sessions(self, uid: str) -> None:
        """Nothing to revoke."""

    def delete_user(self, uid: str) -> bool:
        """Nothing to delete."""
        return False


class FirebaseAuthAccounts:
    """Firebase Auth users, through firebase-admin (Application Default Credentials on Cloud Run; with
    FIREBASE_AUTH_EMULATOR_HOST set, firebase-admin talks to the Auth emulator instead)."""

    def __init__(self, project_id: str) -> None:
        self._project_id = project_id
        self._app: Any = None
        self._lock = threading.Lock()

    def _firebase_app(self) -> Any:
        import firebase_admin

        with self._lock:
            if self._app is None:
                name = f"singer-accounts-{self._project_id}"
                try:
                    self._app = firebase_admin.get_app(name)
                except ValueError:  # not initialised yet in this process
                    self._app = firebase_admin.initialize_app(options={"projectId": self._project_id}, name=name)
            return self._app

    def revoke_sessions(self, uid: str) -> None:
        """Revoke the user's refresh tokens (ID tokens issued before now fail `check_revoked`)."""
        from firebase_admin import auth

        # An unknown user was already deleted: a rerun of a deletion that got past its last step.
        with contextlib.suppress(auth.UserNotFoundError):
            auth.revoke_refresh_tokens(uid, app=self._firebase_app())

    def delete_user(self, uid: str) -> bool:
        """Delete the Firebase Auth user; False if there is none."""
        from firebase_admin import auth

        try:
            auth.delete_user(uid, app=self._firebase_app())
        except auth.UserNotFoundError:
            return False
        return True


def auth_accounts_for(kit: Kit) -> AuthAccounts:
    """The sign-in provider of `kit`'s backend family."""
    settings = kit.settings
    if settings.backend != "gcp":
        return NoAuthAccounts()
    project = getattr(settings, "firebase_project_id", None) or settings.project or ""
    return FirebaseAuthAccounts(project)


@dataclass
class DeletionReport:
    """What one run of `delete_account` found and deleted."""

    uid: str
    jobs_cancelled: int = 0
    jobs_deleted: int = 0
    shares_deleted: int = 0
    blobs_deleted: int = 0
    documents_deleted: int = 0
    auth_user_deleted: bool = False
    job_ids: list[str] = field(default_factory=list)


def uploads_prefix(uid: str) -> str:
    """The blob prefix of a user's scores (and what the API read of them)."""
    return f"{UPLOADS}/{uid}/"


def _delete_prefix(blobs: BlobStore, prefix: str) -> int:
    keys = blobs.list(prefix)
    for key in keys:
        blobs.delete(key)
    return len(keys)


def _stop(store: DocumentStore, job: Job) -> bool:
    """Cancel a job in flight (refunding it); True if this call ended it."""
    if job.status.terminal:
        return False
    try:
        transitions.cancel_job(store, job.id, job.user_id)  # pending or processing: refunded
    except (JobNotFound, JobStateError):
        return False  # it ended, or another run of the deletion took it, since the query
    return True


def delete_job_files(blobs: BlobStore, job_id: str) -> int:
    """Delete every blob under the job's output and intermediate prefixes; returns how many. (A phrase
    already singing may still write to the shared phrase cache, which is keyed by content, not job.)"""
    return sum(_delete_prefix(blobs, prefix) for prefix in job_blob_prefixes(job_id))


def delete_job_data(store: DocumentStore, blobs: BlobStore, job: Job) -> int:
    """Delete one job's blobs, then its document; returns the blobs deleted."""
    deleted = delete_job_files(blobs, job.id)
    store.delete(job_path(job.id))
    return deleted


def _delete_collection(store: DocumentStore, collection: str) -> int:
    deleted = 0
    while found := store.query(collection, limit=PAGE):
        for snap in found:
            store.delete(snap.path)
        deleted += len(found)
    return deleted


def delete_account(store: DocumentStore, blobs: BlobStore, uid: str, auth: AuthAccounts) -> DeletionReport:
    """Delete `uid`'s account and all their data (see the module's docstring for the order); safe to
    run again after a failure part way, or on an account already deleted."""
    report = DeletionReport(uid)
    auth.revoke_sessions(uid)
    report.shares_deleted = delete_user_shares(store, uid)
    # Each page's documents are deleted before the next query, so the query moves on by itself.
    while found := store.query(JOBS, [("userId", "==", uid)], limit=PAGE):
        for snap in found:
            job = Job.from_document(snap.id, snap.data)
            report.jobs_cancelled += _stop(store, job)
            report.blobs_deleted += delete_job_data(store, blobs, job)
            report.jobs_deleted += 1
            report.job_ids.append(job.id)
    report.blobs_deleted += _delete_prefix(blobs, uploads_prefix(uid))
    report.documents_deleted += _delete_collection(store, upload_info_collection(uid))
    report.documents_deleted += _delete_collection(store, ledger_collection(uid))
    for path in (f"{UPLOAD_QUOTAS}/{uid}", user_path(uid)):
        if store.get(path) is not None:
            store.delete(path)
            report.documents_deleted += 1
    report.auth_user_deleted = auth.delete_user(uid)
    return report
