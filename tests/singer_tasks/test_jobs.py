"""The job and credit transitions on the local document store: each moves a job at most once, and the
ledger (balance, reservations, jobs in flight) always adds up."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from singer_tasks.errors import InsufficientCredits, JobNotFound, JobStateError, TooManyJobs
from singer_tasks.jobs import transitions as jobs
from singer_tasks.jobs.model import (
    JOBS,
    USERS,
    Expression,
    Job,
    JobStage,
    JobStatus,
    User,
    job_path,
    upload_key,
    user_path,
)
from singer_tasks.settings import SingerSettings
from taskkit.backends.base import DocumentStore
from taskkit.backends.local.documents import LocalDocumentStore

SETTINGS = SingerSettings(default_credits=100, max_jobs_in_flight=3, max_song_seconds=60)
OUTPUT = {"wav": "jobs/j/out.wav", "ds": "jobs/j/song.ds", "display": "jobs/j/display.json"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DocumentStore]:
    documents = LocalDocumentStore(tmp_path / "documents.sqlite3")
    yield documents
    documents.close()


def request(uid: str = "ada", render_type: str = "final", **extra: object) -> jobs.JobRequest:
    return jobs.JobRequest(uid, upload_key(uid, "a" * 32, ".musicxml"), render_type, "builtin", None, **extra)  # type: ignore[arg-type]


def user(store: DocumentStore, uid: str = "ada") -> User:
    return User.from_document(uid, store.get(user_path(uid)) or {})


def stored(store: DocumentStore, job_id: str) -> Job:
    return Job.from_document(job_id, store.get(job_path(job_id)) or {})


def test_paths_come_from_the_collection_constants() -> None:
    assert (job_path("j"), user_path("u"), upload_key("u", "s", ".mxl")) == ("jobs/j", "users/u", "uploads/u/s.mxl")
    assert (JOBS, USERS) == ("jobs", "users")


def test_create_reserves_the_most_the_render_can_cost(store: DocumentStore) -> None:
    job = jobs.create_job(store, request(expression=Expression.SCORE, speaker="alto"), SETTINGS)
    reserve = SETTINGS.max_cost("final")
    assert job.status is JobStatus.PENDING and job.progress.stage is JobStage.QUEUED
    assert (job.credits.reserved, job.credits.charged, job.credits.refunded) == (reserve, 0, 0)
    assert stored(store, job.id) == job
    raw = store.get(job_path(job.id)) or {}
    assert raw["status"] == "pending" and raw["expression"] == "score" and raw["speaker"] == "alto"
    assert raw["userId"] == "ada" and raw["inputPath"] == "uploads/ada/" + "a" * 32 + ".musicxml"
    account = user(store)
    assert (account.credits, account.reserved, account.in_flight) == (100, reserve, 1)


def test_create_refuses_beyond_the_balance_and_the_jobs_in_flight(store: DocumentStore) -> None:
    poor = SingerSettings(default_credits=SETTINGS.max_cost("final") - 1, max_song_seconds=60)
    with pytest.raises(InsufficientCredits):
        jobs.create_job(store, request("bob"), poor)
    assert jobs.create_job(store, request("bob", "preview"), poor).render_type == "preview"
    for _ in range(3):
        jobs.create_job(store, request("cy", "preview"), SETTINGS)
    with pytest.raises(TooManyJobs):
        jobs.create_job(store, request("cy", "preview"), SETTINGS)
    assert user(store, "cy").in_flight == 3


def test_concurrent_creations_never_overdraw(store: DocumentStore) -> None:
    settings = SETTINGS.model_copy(
        update={"default_credits": 3 * SETTINGS.max_cost("final"), "max_jobs_in_flight": 100}
    )
    jobs.ensure_user(store, "dee", settings)

    def create(_: int) -> bool:
        try:
            jobs.create_job(store, request("dee"), settings)
            return True
        except InsufficientCredits:
            return False

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(create, range(8)))
    assert outcomes.count(True) == 3
    account = user(store, "dee")
    assert account.reserved == account.credits and account.in_flight == 3


def test_start_counts_attempts_and_keeps_the_first_start(store: DocumentStore) -> None:
    job = jobs.create_job(store, request(), SETTINGS)
    first = jobs.start_job(store.transaction, job.id)
    assert first is not None and first.status is JobStatus.PROCESSING and first.attempts == 1
    again = jobs.start_job(store.transaction, job.id)  # a redelivered render restarts the job
    assert again is not None and again.attempts == 2 and again.started_at == first.started_at
    assert jobs.start_job(store.transaction, "missing") is None


def test_progress_is_written_only_while_processing(store: DocumentStore) -> None:
    job = jobs.create_job(store, request(), SETTINGS)
    jobs.set_progress(store.transaction, job.id, JobStage.PARSE, 0.5)
    assert stored(store, job.id).progress.stage is JobStage.QUEUED  # still pending
    jobs.start_job(store.transaction, job.id)
    jobs.set_progress(store.transaction, job.id, JobStage.PHRASES, 1.7)
    progress = stored(store, job.id).progress
    assert (progress.stage, progress.fraction) == (JobStage.PHRASES, 1.0)
    with pytest.raises(ValueError):
        jobs.set_progress(store.transaction, job.id, "acoustic", 0.1)  # type: ignore[arg-type]


def test_complete_charges_the_real_cost_and_releases_the_rest_once(store: DocumentStore) -> None:
    job = jobs.create_job(store, request(), SETTINGS)
    assert not jobs.complete_job(store.transaction, job.id, output=OUTPUT, seconds=25.0, settings=SETTINGS)
    jobs.start_job(store.transaction, job.id)
    assert jobs.complete_job(store.transaction, job.id, output=OUTPUT, seconds=25.0, settings=SETTINGS)
    for _ in range(3):
        assert not jobs.complete_job(store.transaction, job.id, output=OUTPUT, seconds=25.0, settings=SETTINGS)
        assert not jobs.fail_job(store.transaction, job.id, code="no_lyrics", message="late")
    assert jobs.start_job(store.transaction, job.id) is None
    done = stored(store, job.id)
    charged = SETTINGS.cost(25.0, "final")
    assert done.status is JobStatus.COMPLETED and done.progress.stage is JobStage.DONE
    assert done.output_path == OUTPUT["wav"] and done.outputs is not None and done.outputs.display == OUTPUT["display"]
    assert (done.credits.charged, done.credits.refunded) == (charged, done.credits.reserved - charged)
    assert done.duration_seconds == 25.0 and done.finished_at is not None and done.error is None
    account = user(store)
    assert (account.credits, account.reserved, account.in_flight) == (100 - charged, 0, 0)


def test_fail_refunds_everything_once(store: DocumentStore) -> None:
    job = jobs.create_job(store, request(), SETTINGS)
    jobs.start_job(store.transaction, job.id)
    assert jobs.fail_job(store.transaction, job.id, code="no_lyrics", message="no lyrics in part 1")
    for _ in range(3):
        assert not jobs.fail_job(store.transaction, job.id, code="dead_lettered", message="again")
    failed = stored(store, job.id)
    assert failed.status is JobStatus.FAILED and failed.error is not None
    assert (failed.error.code, failed.error.message) == ("no_lyrics", "no lyrics in part 1")
    assert (failed.credits.charged, failed.credits.refunded) == (0, failed.credits.reserved)
    account = user(store)
    assert (account.credits, account.reserved, account.in_flight) == (100, 0, 0)


def test_a_pending_job_may_fail_too(store: DocumentStore) -> None:
    job = jobs.create_job(store, request(), SETTINGS)  # dead-lettered before any worker started it
    assert jobs.fail_job(store.transaction, job.id, code="dead_lettered", message="gone")
    assert user(store).in_flight == 0 and jobs.start_job(store.transaction, job.id) is None


def test_cancel_a_job_in_flight_of_ones_own_and_refund_once(store: DocumentStore) -> None:
    job = jobs.create_job(store, request(), SETTINGS)
    with pytest.raises(JobNotFound):
        jobs.cancel_job(store, job.id, "mallory")
    cancelled = jobs.cancel_job(store, job.id, "ada")
    assert cancelled.status is JobStatus.CANCELLED and cancelled.credits.refunded == cancelled.credits.reserved
    with pytest.raises(JobStateError):
        jobs.cancel_job(store, job.id, "ada")
    assert not jobs.fail_job(store.transaction, job.id, code="x", message="y")
    assert jobs.start_job(store.transaction, job.id) is None  # a late render message does nothing
    account = user(store)
    assert (account.credits, account.reserved, account.in_flight) == (100, 0, 0)
    running = jobs.create_job(store, request(), SETTINGS)
    jobs.start_job(store.transaction, running.id)
    stopped = jobs.cancel_job(store, running.id, "ada")
    assert stopped.status is JobStatus.CANCELLED and stopped.credits.refunded == stopped.credits.reserved
    assert stopped.credits.charged == 0
    assert not jobs.complete_job(store.transaction, running.id, output=OUTPUT, seconds=5.0, settings=SETTINGS)
    account = user(store)
    assert (account.credits, account.reserved, account.in_flight) == (100, 0, 0)


def test_get_and_list_show_only_ones_own_jobs_newest_first(store: DocumentStore) -> None:
    mine = [jobs.create_job(store, request("eve", "preview"), SETTINGS) for _ in range(3)]
    theirs = jobs.create_job(store, request("fay", "preview"), SETTINGS)
    assert jobs.get_job(store, mine[0].id, "eve") == mine[0]
    with pytest.raises(JobNotFound):
        jobs.get_job(store, theirs.id, "eve")
    with pytest.raises(JobNotFound):
        jobs.get_job(store, "missing", "eve")
    listed = jobs.list_jobs(store, "eve", limit=10)
    assert [j.id for j in listed] == [j.id for j in sorted(mine, key=lambda j: j.created_at, reverse=True)]
    page = jobs.list_jobs(store, "eve", limit=2)
    older = jobs.list_jobs(store, "eve", limit=2, before=page[-1].created_at)
    assert [j.id for j in page + older] == [j.id for j in listed]


def test_ensure_user_creates_once(store: DocumentStore) -> None:
    first = jobs.ensure_user(store, "gus", SETTINGS)
    assert (first.credits, first.reserved, first.in_flight, first.plan) == (100, 0, 0, "free")
    store.update(user_path("gus"), {"credits": 7})
    assert jobs.ensure_user(store, "gus", SETTINGS).credits == 7


def test_documents_round_trip_through_the_model(store: DocumentStore) -> None:
    job = jobs.create_job(store, request(), SETTINGS)
    raw = store.get(job_path(job.id)) or {}
    assert Job.from_document(job.id, raw).to_document() == raw
    assert "id" not in raw and set(raw) >= {"userId", "renderType", "inputPath", "createdAt", "credits"}
