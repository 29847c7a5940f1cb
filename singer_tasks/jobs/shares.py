"""Share links: a read-only link to one completed song, for anyone who holds it.

A share token is 32 random bytes (URL-safe base64, 43 characters). The database keeps two things:

- `shares/{sha256(token)}` (`ShareRecord`): owner, jobId, expiresAt, revoked. Keyed by the token's
  hash, so a leaked copy of the database leaks no working link. Closed to clients (firestore.rules);
  only the API reads it, to answer `GET /v1/shared/{token}`.
- the job document's `share` field (`JobShare`: token, url, expiresAt): the token itself, so its owner
  can copy the link again. The job document is readable by its owner only (firestore.rules).

One active share per job: creating again returns the active one; after a revoke (or once it expired)
a new token is made. A token resolves only while its record exists, is not revoked, has not expired,
and its job still exists, belongs to the record's owner, is completed and still carries this token;
every other case is the same "not found". Clocks are passed in (`now`), so expiry is tested without
waiting. Torch-free: the API uses it.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from singer_tasks.errors import JobNotFound, JobStateError
from singer_tasks.jobs.model import Job, JobShare, JobStatus, StoredModel, job_path
from taskkit.backends.base import DocumentStore, Transaction

SHARES = "shares"
TOKEN_BYTES = 32
SPA_SHARE_PREFIX = "/s/"
DAY_S = 86_400
MIN_DAYS, MAX_DAYS, DEFAULT_DAYS = 1, 365, 30

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "MIN_DAYS",
    "SHARES",
    "Resolved",
    "ShareRecord",
    "create_share",
    "delete_job_shares",
    "delete_user_shares",
    "resolve_share",
    "revoke_share",
    "share_path",
    "token_hash",
]


def token_hash(token: str) -> str:
    """The SHA-256 of a token (hex): the id of its `shares/` record."""
    return hashlib.sha256(token.encode()).hexdigest()


def share_path(digest: str) -> str:
    """Document path of the share record with this token hash."""
    return f"{SHARES}/{digest}"


class ShareRecord(StoredModel):
    """`shares/{sha256(token)}`: whose song, which job, until when, and whether it was revoked.

    `expireAt` (written alongside, equal to `expiresAt`) lets a Firestore TTL policy remove old records.
    """

    owner: str
    job_id: str
    expires_at: float
    revoked: bool = False
    created_at: float
    revoked_at: float | None = None

    def to_document(self) -> dict[str, Any]:
        """The stored form, with `expireAt` for a TTL policy."""
        return {**super().to_document(), "expireAt": self.expires_at}


def _owned_job(tx: Transaction, job_id: str, uid: str) -> Job:
    data = tx.get(job_path(job_id))
    if data is None or data.get("userId") != uid:
        raise JobNotFound(f"no job {job_id}")
    return Job.from_document(job_id, data)


def _active_record(tx: Transaction, share: JobShare | None, now: float) -> ShareRecord | None:
    """The record behind a job's `share` field, if that share still works at `now`."""
    if share is None or share.expires_at <= now:
        return None
    data = tx.get(share_path(token_hash(share.token)))
    if data is None:
        return None
    record = ShareRecord.model_validate(data)
    return None if record.revoked else record


def create_share(
    store: DocumentStore, job_id: str, uid: str, *, days: int = DEFAULT_DAYS, now: float | None = None
) -> JobShare:
    """The job's active share, made now if it has none (valid `days` days); JobNotFound for another
    user's job, JobStateError unless the job is completed."""
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValueError(f"a share lasts {MIN_DAYS} to {MAX_DAYS} days, not {days}")
    at = time.time() if now is None else now

    def share(tx: Transaction) -> JobShare:
        job = _owned_job(tx, job_id, uid)
        if job.status is not JobStatus.COMPLETED:
            raise JobStateError(f"only a completed song can be shared; this one is {job.status}")
        if _active_record(tx, job.share, at) is not None and job.share is not None:
            return job.share
        token = secrets.token_urlsafe(TOKEN_BYTES)
        made = JobShare(token=token, url=f"{SPA_SHARE_PREFIX}{token}", expires_at=at + days * DAY_S)
        record = ShareRecord(owner=uid, job_id=job_id, expires_at=made.expires_at, created_at=at)
        if job.share is not None:  # an expired or revoked one: its record has no more use
            tx.delete(share_path(token_hash(job.share.token)))
        tx.create(share_path(token_hash(token)), record.to_document())
        tx.update(job_path(job_id), {"share": made.to_document()})
        return made

    return store.transaction(share)


def revoke_share(store: DocumentStore, job_id: str, uid: str, *, now: float | None = None) -> bool:
    """Revoke the job's share (its token then resolves to nothing); False if it had none.
    JobNotFound for another user's job."""
    at = time.time() if now is None else now

    def revoke(tx: Transaction) -> bool:
        job = _owned_job(tx, job_id, uid)
        if job.share is None:
            return False
        path = share_path(token_hash(job.share.token))
        if tx.get(path) is not None:
            tx.update(path, {"revoked": True, "revokedAt": at})
        tx.update(job_path(job_id), {"share": None})
        return True

    return store.transaction(revoke)


@dataclass(frozen=True)
class Resolved:
    """What a working token leads to: its record and its (completed) job."""

    record: ShareRecord
    job: Job


def resolve_share(store: DocumentStore, token: str, *, now: float | None = None) -> Resolved | None:
    """The song a token shares, or None when the token is unknown, revoked or expired, or its job was
    deleted, changed hands or is no longer completed (callers answer each case the same way)."""
    at = time.time() if now is None else now
    if not token or len(token) > 128:
        return None
    digest = token_hash(token)
    data = store.get(share_path(digest))
    if data is None:
        return None
    record = ShareRecord.model_validate(data)
    if record.revoked or record.expires_at <= at:
        return None
    job_data = store.get(job_path(record.job_id))
    if job_data is None or job_data.get("userId") != record.owner:
        return None
    job = Job.from_document(record.job_id, job_data)
    if job.status is not JobStatus.COMPLETED or job.share is None or token_hash(job.share.token) != digest:
        return None
    return Resolved(record, job)


def delete_job_shares(store: DocumentStore, job_id: str) -> int:
    """Delete every share record of a job (when the job is deleted); returns how many."""
    found = store.query(SHARES, [("jobId", "==", job_id)])
    for snap in found:
        store.delete(snap.path)
    return len(found)


def delete_user_shares(store: DocumentStore, uid: str, *, page: int = 200) -> int:
    """Delete every share record a user made (account deletion); returns how many."""
    deleted = 0
    while found := store.query(SHARES, [("owner", "==", uid)], limit=page):
        for snap in found:
            store.delete(snap.path)
        deleted += len(found)
    return deleted
