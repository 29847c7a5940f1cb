"""Jobs and credits: the documents, their transitions and the ledger, on any taskkit DocumentStore.

Torch-free; the API and the render task both use it. Every transition is one transaction that reads
the job first and moves it only from the states it may leave, so each happens at most once whatever
the redeliveries: reserve (job created), start, progress, complete (charge the real cost, release
the rest), fail or cancel (refund everything). Each change of a balance or reservation also creates
its ledger entry (`ledger.py`) in the same transaction, under an id derived from the job
(`{jobId}:reserve`, `{jobId}:charge`, `{jobId}:release`, `{jobId}:refund`); a new user's starting
credits are the entry `signup`.

`users/{uid}`: credits (the balance), reserved (held by jobs in flight), inFlight, plan.
`jobs/{jobId}`: see docs/architecture.md, "Documents", and `singer_tasks.jobs.model.Job`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from singer_tasks.errors import InsufficientCredits, JobNotFound, JobStateError, TooManyJobs
from singer_tasks.jobs.ledger import SYSTEM, LedgerKind, job_entry_id, post, user_fields
from singer_tasks.jobs.model import (
    IN_FLIGHT,
    JOBS,
    TERMINAL,
    Credits,
    Expression,
    Job,
    JobFailure,
    JobOutputs,
    JobStage,
    JobStatus,
    Progress,
    RenderType,
    User,
    job_path,
    score_id_of,
    user_path,
)
from singer_tasks.jobs.plans import month_of
from singer_tasks.settings import SingerSettings
from taskkit.backends.base import DocumentStore, Transaction
from taskkit.mutex import document_mutex
from taskkit.retrying import retry_transient

T = TypeVar("T")
Transact = Callable[[Callable[[Transaction], T]], T]

__all__ = [
    "IN_FLIGHT",
    "TERMINAL",
    "InsufficientCredits",
    "JobNotFound",
    "JobRequest",
    "JobStateError",
    "TooManyJobs",
    "cancel_job",
    "complete_job",
    "create_job",
    "delete_job_document",
    "ensure_user",
    "fail_job",
    "get_job",
    "job_path",
    "list_jobs",
    "new_user",
    "rename_job",
    "set_progress",
    "start_job",
    "user_path",
]


def new_user(uid: str, settings: SingerSettings, now: float) -> User:
    """A fresh user with the starting balance."""
    return User(uid=uid, credits=settings.default_credits, reserved=0, in_flight=0, plan="free", created_at=now)


SIGNUP_ENTRY = "signup"


def _open_account(tx: Transaction, uid: str, settings: SingerSettings, now: float) -> User:
    """A new user whose starting credits are the ledger entry `signup` (written in `tx`); the caller
    writes the user document. Their first month counts as refilled."""
    blank = new_user(uid, settings, now).model_copy(update={"credits": 0, "refilled_for": month_of(now)})
    user, _ = post(
        tx,
        blank,
        LedgerKind.GRANT,
        settings.default_credits,
        entry_id=SIGNUP_ENTRY,
        actor=SYSTEM,
        reason="starting credits",
        now=now,
    )
    return user


def ensure_user(store: DocumentStore, uid: str, settings: SingerSettings) -> User:
    """The user, created with the starting balance on first sight."""
    data = store.get(user_path(uid))
    if data is not None:
        return User.from_document(uid, data)

    def open_account(tx: Transaction) -> User:
        found = tx.get(user_path(uid))
        if found is not None:
            return User.from_document(uid, found)
        user = _open_account(tx, uid, settings, time.time())
        tx.set(user_path(uid), user.to_document())
        return user

    return store.transaction(open_account)


def _read_job(tx: Transaction, job_id: str) -> Job | None:
    data = tx.get(job_path(job_id))
    return None if data is None else Job.from_document(job_id, data)


@dataclass(frozen=True)
class JobRequest:
    """What a user asks for."""

    uid: str
    input_path: str
    render_type: RenderType
    voice: str
    language: str | None
    expression: Expression | None = None
    speaker: str | None = None
    title: str = ""
    filename: str = ""
    key_shift: int = 0
    tempo_factor: float = 1.0
    verse: str | None = None
    part: str | None = None


# A creation that still meets contention (or a busy lock) is tried again after a jittered pause.
@retry_transient(attempts=8, initial_s=0.2, max_wait_s=3.0)
def create_job(store: DocumentStore, request: JobRequest, settings: SingerSettings) -> Job:
    """Reserve credits and write the pending job, in one transaction; returns the job."""
    job_id = uuid.uuid4().hex
    reserve = settings.max_cost(request.render_type)

    def reserve_and_write(tx: Transaction) -> Job:
        now = time.time()
        data = tx.get(user_path(request.uid))
        user = User.from_document(request.uid, data) if data is not None else new_user(request.uid, settings, now)
        if user.in_flight >= settings.max_jobs_in_flight:
            raise TooManyJobs(
                f"you already have {user.in_flight} jobs in progress (the limit is "
                f"{settings.max_jobs_in_flight}); wait for one to finish or cancel one"
            )
        if user.available < reserve:
            raise InsufficientCredits(
                f"a {request.render_type} render reserves {reserve} credits and you have {user.available} "
                "available; try a preview, or wait for running jobs to settle"
            )
        job = Job(
            id=job_id,
            user_id=request.uid,
            status=JobStatus.PENDING,
            render_type=request.render_type,
            voice=request.voice,
            speaker=request.speaker,
            expression=request.expression,
            language=request.language,
            input_path=request.input_path,
            title=request.title,
            score_id=score_id_of(request.input_path),
            filename=request.filename,
            key_shift=request.key_shift,
            tempo_factor=request.tempo_factor,
            verse=request.verse,
            part=request.part,
            progress=Progress(stage=JobStage.QUEUED, fraction=0.0),
            credits=Credits(reserved=reserve),
            created_at=now,
            updated_at=now,
        )
        tx.create(job_path(job_id), job.to_document())
        if data is None:
            user = _open_account(tx, request.uid, settings, now)
        user, _ = post(
            tx,
            user,
            LedgerKind.RESERVE,
            -reserve,
            entry_id=job_entry_id(job_id, LedgerKind.RESERVE),
            actor=request.uid,
            job_id=job_id,
            now=now,
        )
        user = user.model_copy(update={"in_flight": user.in_flight + 1})
        tx.set(user_path(request.uid), user.to_document())
        return job

    # One user's creations take turns, so a burst of them cannot starve each other's transactions.
    with document_mutex(store, f"user-{request.uid}"):
        return store.transaction(reserve_and_write)


def _release(tx: Transaction, job: Job, *, charged: int | None, actor: str) -> dict[str, Any]:
    """Move the job's reservation out of the user's balance sheet: with `charged` (completion) the
    entries `{jobId}:charge` and `{jobId}:release`, without (failure, cancellation) `{jobId}:refund`.
    Returns the job's new `credits` field (the user's document is updated in the same transaction)."""
    reserved = job.credits.reserved
    path = user_path(job.user_id)
    data = tx.get(path)
    if data is not None:
        user = User.from_document(job.user_id, data)
        now = time.time()
        if charged is not None:
            user, _ = post(
                tx,
                user,
                LedgerKind.CHARGE,
                -charged,
                entry_id=job_entry_id(job.id, LedgerKind.CHARGE),
                actor=actor,
                job_id=job.id,
                now=now,
            )
        kind = LedgerKind.REFUND if charged is None else LedgerKind.RELEASE
        hold = user.reserved - max(0, user.reserved - reserved)  # never below zero
        user, _ = post(tx, user, kind, hold, entry_id=job_entry_id(job.id, kind), actor=actor, job_id=job.id, now=now)
        tx.update(path, {**user_fields(user), "inFlight": max(0, user.in_flight - 1)})
    charged = charged or 0
    return Credits(reserved=reserved, charged=charged, refunded=reserved - charged).to_document()


def start_job(transact: Transact[Job | None], job_id: str) -> Job | None:
    """pending|processing -> processing (attempts + 1); None if the job ended or does not exist."""

    def start(tx: Transaction) -> Job | None:
        job = _read_job(tx, job_id)
        if job is None or job.status.terminal:
            return None
        now = time.time()
        fields: dict[str, Any] = {"status": JobStatus.PROCESSING.value, "attempts": job.attempts + 1, "updatedAt": now}
        if not job.started_at:
            fields["startedAt"] = now
        tx.update(job_path(job_id), fields)
        return Job.from_document(job_id, {**job.to_document(), **fields})

    return transact(start)


def set_progress(
    transact: Transact[None], job_id: str, stage: JobStage, fraction: float, *, total: int | None = None
) -> None:
    """Record progress of a processing job (callers throttle to about one write per second). The time a
    stage began is kept while it lasts (the API estimates the time left from it); `total` is the
    number of phrases once they are known."""
    stage = JobStage(stage)
    fraction = round(min(max(fraction, 0.0), 1.0), 4)

    def write(tx: Transaction) -> None:
        job = _read_job(tx, job_id)
        if job is None or job.status is not JobStatus.PROCESSING:
            return
        now = time.time()
        same = job.progress.stage is stage
        progress = Progress(
            stage=stage,
            fraction=fraction,
            total=total if total is not None else (job.progress.total if same else None),
            stage_started_at=job.progress.stage_started_at if same and job.progress.stage_started_at else now,
        )
        tx.update(job_path(job_id), {"progress": progress.to_document(), "updatedAt": now})

    transact(write)


def complete_job(
    transact: Transact[bool], job_id: str, *, output: Mapping[str, str], seconds: float, settings: SingerSettings
) -> bool:
    """processing -> completed: point at the outputs, charge the real cost, release the rest."""
    outputs = JobOutputs.model_validate(dict(output))

    def complete(tx: Transaction) -> bool:
        job = _read_job(tx, job_id)
        if job is None or job.status is not JobStatus.PROCESSING:
            return False
        charged = min(job.credits.reserved, settings.cost(seconds, job.render_type))
        credits = _release(tx, job, charged=charged, actor=SYSTEM)
        now = time.time()
        tx.update(
            job_path(job_id),
            {
                "status": JobStatus.COMPLETED.value,
                "outputPath": outputs.wav,
                "outputs": outputs.to_document(),
                "durationSeconds": round(seconds, 3),
                "progress": Progress(stage=JobStage.DONE, fraction=1.0).to_document(),
                "credits": credits,
                "updatedAt": now,
                "finishedAt": now,
            },
        )
        return True

    return transact(complete)


def fail_job(transact: Transact[bool], job_id: str, *, code: str, message: str) -> bool:
    """Any non-terminal state -> failed, refunding the whole reservation. False if already ended."""
    error = JobFailure(code=code, message=message).to_document()

    def fail(tx: Transaction) -> bool:
        job = _read_job(tx, job_id)
        if job is None or job.status.terminal:
            return False
        credits = _release(tx, job, charged=None, actor=SYSTEM)
        now = time.time()
        fields = {
            "status": JobStatus.FAILED.value,
            "error": error,
            "credits": credits,
            "updatedAt": now,
            "finishedAt": now,
        }
        tx.update(job_path(job_id), fields)
        return True

    return transact(fail)


def _cancel_in(tx: Transaction, job: Job, actor: str) -> Job:
    """pending|processing -> cancelled in `tx`, refunding the whole reservation (nothing is charged)."""
    credits = _release(tx, job, charged=None, actor=actor)
    now = time.time()
    fields = {"status": JobStatus.CANCELLED.value, "credits": credits, "updatedAt": now, "finishedAt": now}
    tx.update(job_path(job.id), fields)
    return Job.from_document(job.id, {**job.to_document(), **fields})


def cancel_job(store: DocumentStore, job_id: str, uid: str) -> Job:
    """pending|processing -> cancelled with a full refund; JobNotFound for another user's job,
    JobStateError for one that has ended.

    A processing job's remaining phrase tasks and its assembly see the status and skip; a phrase
    already singing may finish, but nothing uses its result. Against an assembly completing at the
    same moment, the transaction decides: `complete_job` and this both move only from processing,
    so exactly one of them wins, and the credits are charged or refunded, never both.
    """

    def cancel(tx: Transaction) -> Job:
        job = _read_job(tx, job_id)
        if job is None or job.user_id != uid:
            raise JobNotFound(f"no job {job_id}")
        if not job.status.in_flight:
            raise JobStateError(f"only a pending or processing job can be cancelled; this one is {job.status}")
        return _cancel_in(tx, job, uid)

    return store.transaction(cancel)


def rename_job(store: DocumentStore, job_id: str, uid: str, title: str) -> Job:
    """Give the caller's job a new title (any status); JobNotFound for another user's job."""

    def rename(tx: Transaction) -> Job:
        job = _read_job(tx, job_id)
        if job is None or job.user_id != uid:
            raise JobNotFound(f"no job {job_id}")
        fields = {"title": title, "updatedAt": time.time()}
        tx.update(job_path(job_id), fields)
        return Job.from_document(job_id, {**job.to_document(), **fields})

    return store.transaction(rename)


def delete_job_document(store: DocumentStore, job_id: str, uid: str) -> Job:
    """Delete the caller's job document, cancelling (and refunding) it first when in flight, in one
    transaction; returns the job as it was. The caller then deletes its files (`job_blob_prefixes`):
    tasks still queued for it find no job and skip."""

    def delete(tx: Transaction) -> Job:
        job = _read_job(tx, job_id)
        if job is None or job.user_id != uid:
            raise JobNotFound(f"no job {job_id}")
        if job.status.in_flight:
            job = _cancel_in(tx, job, uid)
        tx.delete(job_path(job_id))
        return job

    return store.transaction(delete)


def get_job(store: DocumentStore, job_id: str, uid: str) -> Job:
    """The caller's job; JobNotFound for a missing job or another user's."""
    data = store.get(job_path(job_id))
    if data is None or data.get("userId") != uid:
        raise JobNotFound(f"no job {job_id}")
    return Job.from_document(job_id, data)


def list_jobs(store: DocumentStore, uid: str, *, limit: int, before: float | None = None) -> list[Job]:
    """The caller's jobs, newest first; `before` (a createdAt) pages backwards."""
    filters: list[Any] = [("userId", "==", uid)]
    if before is not None:
        filters.append(("createdAt", "<", before))
    snaps = store.query(JOBS, filters, order_by=[("createdAt", "desc")], limit=limit)
    return [Job.from_document(s.id, s.data) for s in snaps]
