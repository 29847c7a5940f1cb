"""Abuse controls of the API: who may spend credits, how often jobs may fail, how much may be uploaded.

- `require_verified`: credits are granted and jobs accepted only for accounts whose email is verified
  (Firebase's `email_verified` claim) or that signed in with a trusted provider
  (`SINGER_TRUSTED_SIGN_IN_PROVIDERS`, default google.com). Local users of the embedded stack are trusted.
- `check_recent_failures`: a user whose recent jobs keep failing (bad or hostile scores cost worker
  time even though they are refunded) waits before creating more (429).
- `reserve_upload`: a per-user upload rate (per hour) and a storage quota (bytes uploaded within the
  upload retention period, after which the bucket's lifecycle rule deletes them), in one transaction
  on `upload_quotas/{uid}`.

API-only errors: HTTPException with a clear detail (these are not domain errors of a job).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import HTTPException

from api.tokens import Caller
from singer_tasks.settings import SingerSettings
from taskkit.backends.base import DocumentStore, Transaction

FAILURE_WINDOW_S = 3600.0
RECENT_JOBS_SCANNED = 50
UPLOAD_QUOTAS = "upload_quotas"
_DAY_S = 86_400


def is_verified(caller: Caller, settings: SingerSettings) -> bool:
    """Whether `caller` may receive credits and create jobs."""
    if not settings.require_verified_email or caller.email_verified:
        return True
    return caller.provider is not None and caller.provider in settings.trusted_sign_in_providers


def require_verified(caller: Caller, settings: SingerSettings) -> None:
    """403 unless the caller's email is verified (or the sign-in provider is trusted)."""
    if not is_verified(caller, settings):
        raise HTTPException(
            403,
            "verify your email address first (check your inbox), then sign in again; "
            "credits and renders are available only to verified accounts",
        )


def check_recent_failures(store: DocumentStore, uid: str, settings: SingerSettings, now: float | None = None) -> None:
    """429 when `uid` had `max_failed_jobs_per_hour` or more jobs fail within the last hour.

    Reads the user's most recent jobs only (the `userId` + `createdAt` index), never the collection.
    """
    now = time.time() if now is None else now
    recent = store.query("jobs", [("userId", "==", uid)], order_by=[("createdAt", "desc")], limit=RECENT_JOBS_SCANNED)
    failed = [
        s.data
        for s in recent
        if s.data.get("status") == "failed" and float(s.data.get("finishedAt") or 0) >= now - FAILURE_WINDOW_S
    ]
    if len(failed) >= settings.max_failed_jobs_per_hour:
        oldest = min(float(d.get("finishedAt") or now) for d in failed)
        wait_s = max(1, int(oldest + FAILURE_WINDOW_S - now))
        raise HTTPException(
            429,
            f"{len(failed)} of your jobs failed in the last hour (the limit is {settings.max_failed_jobs_per_hour}); "
            f"check your scores and try again in {wait_s} s",
            headers={"Retry-After": str(wait_s)},
        )


def reserve_upload(
    store: DocumentStore, uid: str, size: int, settings: SingerSettings, now: float | None = None
) -> None:
    """Count one upload of `size` bytes against `uid`'s hourly rate and storage quota; 429/413 if over."""
    now = time.time() if now is None else now
    hour = int(now // 3600)
    today = int(now // _DAY_S)
    oldest_day = today - settings.upload_retention_days

    def reserve(tx: Transaction) -> None:
        path = f"{UPLOAD_QUOTAS}/{uid}"
        doc: dict[str, Any] = tx.get(path) or {}
        count = int(doc.get("count", 0)) if doc.get("hour") == hour else 0
        days = {k: int(v) for k, v in (doc.get("days") or {}).items() if k.isdigit() and int(k) > oldest_day}
        if count >= settings.max_uploads_per_hour:
            wait_s = (hour + 1) * 3600 - int(now)
            raise HTTPException(
                429,
                f"you uploaded {count} scores in this hour, the most allowed; try again in {wait_s} s",
                headers={"Retry-After": str(max(1, wait_s))},
            )
        stored = sum(days.values())
        if stored + size > settings.upload_quota_bytes:
            raise HTTPException(
                413,
                f"this upload would bring your stored scores to {stored + size:,} bytes, over your quota of "
                f"{settings.upload_quota_bytes:,} bytes; uploads are kept {settings.upload_retention_days} days",
            )
        days[str(today)] = days.get(str(today), 0) + size
        tx.set(path, {"hour": hour, "count": count + 1, "days": days, "updatedAt": now})

    store.transaction(reserve)
