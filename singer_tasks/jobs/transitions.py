"""Jobs and credits: the documents, their transitions and the ledger, on any taskkit DocumentStore.

Torch-free; the API and the render task both use it. Every transition is one transaction that reads
the job first and moves it only from the states it may leave, so each happens at most once whatever
the redeliveries: reserve (job created), start, progress, complete (charge the real cost, release
the rest), fail or cancel (refund everything).

`users/{uid}`: credits (the balance), reserved (held by jobs in flight), inFlight, plan.
`jobs/{jobId}`: see docs/architecture.md, "Documents"; `credits: {reserved, charged, refunded}`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from singer_tasks.errors import InsufficientCredits, JobNotFound, JobStateError, TooManyJobs
from singer_tasks.settings import RenderType, SingerSettings
from taskkit.backends.base import Document, DocumentStore, Transaction
from taskkit.mutex import document_mutex
from taskkit.retrying import retry_transient

T = TypeVar("T")
TERMINAL = ("completed", "failed", "cancelled")
IN_FLIGHT = ("pending", "processing")
Transact = Callable[[Callable[[Transaction], T]], T]


def user_path(uid: str) -> str:
    """Document path of a user."""
    return f"users/{uid}"


def job_path(job_id: str) -> str:
    """Document path of a job."""
    return f"jobs/{job_id}"


def new_user(settings: SingerSettings, now: float) -> Document:
    """A fresh user document with the starting balance."""
    return {"credits": settings.default_credits, "reserved": 0, "inFlight": 0, "plan": "free", "createdAt": now}


def ensure_user(store: DocumentStore, uid: str, settings: SingerSettings) -> Document:
    """The user's document, created with the starting balance on first sight."""
    store.create(user_path(uid), new_user(settings, time.time()))
    return store.get(user_path(uid)) or {}


@dataclass(frozen=True)
class JobRequest:
    """What a user asks for."""

    uid: str
    input_path: str
    render_type: RenderType
    voice: str
    language: str | None


# A creation that still meets contention (or a busy lock) is tried again after a jittered pause.
@retry_transient(attempts=8, initial_s=0.2, max_wait_s=3.0)
def create_job(store: DocumentStore, request: JobRequest, settings: SingerSettings) -> Document:
    """Reserve credits and write the pending job, in one transaction; returns the job (with `id`)."""
    job_id = uuid.uuid4().hex
    reserve = settings.max_cost(request.render_type)

    def reserve_and_write(tx: Transaction) -> Document:
        now = time.time()
        user = tx.get(user_path(request.uid)) or new_user(settings, now)
        if user.get("inFlight", 0) >= settings.max_jobs_in_flight:
            raise TooManyJobs(
                f"you already have {user['inFlight']} jobs in progress (the limit is "
                f"{settings.max_jobs_in_flight}); wait for one to finish or cancel one"
            )
        available = user["credits"] - user.get("reserved", 0)
        if available < reserve:
            raise InsufficientCredits(
                f"a {request.render_type} render reserves {reserve} credits and you have {available} available; "
                "try a preview, or wait for running jobs to settle"
            )
        job = {
            "userId": request.uid,
            "status": "pending",
            "renderType": request.render_type,
            "voice": request.voice,
            "language": request.language,
            "inputPath": request.input_path,
            "outputPath": None,
            "progress": {"stage": "queued", "fraction": 0.0},
            "error": None,
            "attempts": 0,
            "credits": {"reserved": reserve, "charged": 0, "refunded": 0},
            "createdAt": now,
            "updatedAt": now,
            "startedAt": None,
            "finishedAt": None,
        }
        tx.create(job_path(job_id), job)
        user.update(reserved=user.get("reserved", 0) + reserve, inFlight=user.get("inFlight", 0) + 1)
        tx.set(user_path(request.uid), user)
        return {"id": job_id, **job}

    # One user's creations take turns, so a burst of them cannot starve each other's transactions.
    with document_mutex(store, f"user-{request.uid}"):
        return store.transaction(reserve_and_write)


def _release(tx: Transaction, job: Document, *, charged: int) -> None:
    """Move the job's reservation out of the user's ledger, charging `charged` of it."""
    path = user_path(job["userId"])
    user = tx.get(path)
    if user is None:
        return
    reserved = job["credits"]["reserved"]
    tx.update(
        path,
        {
            "credits": user["credits"] - charged,
            "reserved": max(0, user.get("reserved", 0) - reserved),
            "inFlight": max(0, user.get("inFlight", 0) - 1),
        },
    )


def start_job(transact: Transact[Document | None], job_id: str) -> Document | None:
    """pending|processing -> processing (attempts + 1); None if the job ended or does not exist."""

    def start(tx: Transaction) -> Document | None:
        job = tx.get(job_path(job_id))
        if job is None or job["status"] in TERMINAL:
            return None
        now = time.time()
        fields: dict[str, Any] = {"status": "processing", "attempts": job.get("attempts", 0) + 1, "updatedAt": now}
        if not job.get("startedAt"):
            fields["startedAt"] = now
        tx.update(job_path(job_id), fields)
        return {**job, **fields}

    return transact(start)


def set_progress(transact: Transact[None], job_id: str, stage: str, fraction: float) -> None:
    """Record progress of a processing job (callers throttle to about one write per second)."""

    def write(tx: Transaction) -> None:
        job = tx.get(job_path(job_id))
        if job is not None and job["status"] == "processing":
            progress = {"stage": stage, "fraction": round(min(max(fraction, 0.0), 1.0), 4)}
            tx.update(job_path(job_id), {"progress": progress, "updatedAt": time.time()})

    transact(write)


def complete_job(
    transact: Transact[bool], job_id: str, *, output: dict[str, str], seconds: float, settings: SingerSettings
) -> bool:
    """processing -> completed: point at the outputs, charge the real cost, release the rest."""

    def complete(tx: Transaction) -> bool:
        job = tx.get(job_path(job_id))
        if job is None or job["status"] != "processing":
            return False
        reserved = job["credits"]["reserved"]
        charged = min(reserved, settings.cost(seconds, job["renderType"]))
        _release(tx, job, charged=charged)
        now = time.time()
        tx.update(
            job_path(job_id),
            {
                "status": "completed",
                "outputPath": output["wav"],
                "outputs": output,
                "durationSeconds": round(seconds, 3),
                "progress": {"stage": "done", "fraction": 1.0},
                "credits": {"reserved": reserved, "charged": charged, "refunded": reserved - charged},
                "updatedAt": now,
                "finishedAt": now,
            },
        )
        return True

    return transact(complete)


def fail_job(transact: Transact[bool], job_id: str, *, code: str, message: str) -> bool:
    """Any non-terminal state -> failed, refunding the whole reservation. False if already ended."""

    def fail(tx: Transaction) -> bool:
        job = tx.get(job_path(job_id))
        if job is None or job["status"] in TERMINAL:
            return False
        _release(tx, job, charged=0)
        now = time.time()
        reserved = job["credits"]["reserved"]
        tx.update(
            job_path(job_id),
            {
                "status": "failed",
                "error": {"code": code, "message": message},
                "credits": {"reserved": reserved, "charged": 0, "refunded": reserved},
                "updatedAt": now,
                "finishedAt": now,
            },
        )
        return True

    return transact(fail)


def cancel_job(store: DocumentStore, job_id: str, uid: str) -> Document:
    """pending -> cancelled with a full refund; JobNotFound for another user's job."""

    def cancel(tx: Transaction) -> Document:
        job = tx.get(job_path(job_id))
        if job is None or job.get("userId") != uid:
            raise JobNotFound(f"no job {job_id}")
        if job["status"] != "pending":
            raise JobStateError(f"only a pending job can be cancelled; this one is {job['status']}")
        _release(tx, job, charged=0)
        now = time.time()
        reserved = job["credits"]["reserved"]
        fields = {
            "status": "cancelled",
            "credits": {"reserved": reserved, "charged": 0, "refunded": reserved},
            "updatedAt": now,
            "finishedAt": now,
        }
        tx.update(job_path(job_id), fields)
        return {"id": job_id, **job, **fields}

    return store.transaction(cancel)


def get_job(store: DocumentStore, job_id: str, uid: str) -> Document:
    """The caller's job (with `id`); JobNotFound for a missing job or another user's."""
    job = store.get(job_path(job_id))
    if job is None or job.get("userId") != uid:
        raise JobNotFound(f"no job {job_id}")
    return {"id": job_id, **job}


def list_jobs(store: DocumentStore, uid: str, *, limit: int, before: float | None = None) -> list[Document]:
    """The caller's jobs, newest first; `before` (a createdAt) pages backwards."""
    filters: list[Any] = [("userId", "==", uid)]
    if before is not None:
        filters.append(("createdAt", "<", before))
    snaps = store.query("jobs", filters, order_by=[("createdAt", "desc")], limit=limit)
    return [{"id": s.id, **s.data} for s in snaps]
