"""Render jobs: create (reserving credits), read, list, download, cancel."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, HTTPException, Query

from api.abuse import check_recent_failures
from api.deps import CurrentUser, KitDep, SettingsDep, TrustedUser
from api.params import JobId
from api.schemas import Job, JobCreate, JobPage, OutputUrls, Problem
from singer_tasks.jobs import model
from singer_tasks.jobs import transitions as jobs
from singer_tasks.jobs.model import JobStage, JobStatus, Progress, upload_key
from singer_tasks.kit import RENDER_TASK, RENDER_TOPIC, render_task_id
from singer_tasks.score.sniff import sniff_score
from taskkit import TaskkitError, chord_progress

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
log = structlog.get_logger("api.jobs")
ERRORS = {
    400: {"model": Problem},
    402: {"model": Problem, "description": "not enough credits"},
    404: {"model": Problem},
    409: {"model": Problem},
    413: {"model": Problem},
    415: {"model": Problem},
    429: {"model": Problem, "description": "too many jobs in flight"},
}


def _find_upload(kit: KitDep, uid: str, score_id: str, max_bytes: int) -> str:
    """The caller's upload for `score_id`, checked to be a MusicXML score of allowed size."""
    for ext in (".musicxml", ".mxl"):
        key = upload_key(uid, score_id, ext)
        if kit.blobs.exists(key):
            data = kit.blobs.get(key)
            if len(data) > max_bytes:
                raise HTTPException(413, f"the score is larger than the {max_bytes} byte limit")
            sniff_score(data)  # UnreadableScore: 415 through the SingerError handler
            return key
    raise HTTPException(404, f"no upload {score_id} of yours: upload the score first")


@router.post("", response_model=Job, status_code=202, responses=ERRORS)  # type: ignore[arg-type]
def create_job(body: JobCreate, user: TrustedUser, kit: KitDep, settings: SettingsDep) -> Job:
    """Reserve the most this render type can cost and queue the render."""
    check_recent_failures(kit.documents, user.uid, settings)
    input_path = _find_upload(kit, user.uid, body.score_id, settings.max_upload_bytes)
    request = jobs.JobRequest(
        uid=user.uid,
        input_path=input_path,
        render_type=body.render_type,
        voice=body.voice or settings.default_voice,
        language=body.language,
        expression=body.expression,
        speaker=body.speaker,
    )
    job = jobs.create_job(kit.documents, request, settings)
    try:
        kit.send_task(RENDER_TASK, {"job_id": job.id}, task_id=render_task_id(job.id), topic=RENDER_TOPIC)
    except TaskkitError:
        # The job is written and paid for; the sweep republishes pending jobs whose message was lost.
        log.exception("job.publish_failed", job_id=job.id)
    return Job.from_job(job)


@router.get("", response_model=JobPage)
def list_jobs(
    user: CurrentUser,
    kit: KitDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    before: Annotated[float | None, Query(description="nextBefore of the previous page")] = None,
) -> JobPage:
    """The caller's jobs, newest first."""
    found = jobs.list_jobs(kit.documents, user.uid, limit=limit, before=before)
    next_before = found[-1].created_at if len(found) == limit else None
    return JobPage(jobs=[with_live_progress(kit, j) for j in found], next_before=next_before)


def _owned(kit: KitDep, job_id: str, uid: str) -> model.Job:
    return jobs.get_job(kit.documents, job_id, uid)


def rendering_phrases(job: model.Job) -> bool:
    """Whether the job's phrases are being sung (its document's fraction then stays 0)."""
    return job.status is JobStatus.PROCESSING and job.progress.stage is JobStage.PHRASES


def with_live_progress(kit: KitDep, job: model.Job) -> Job:
    """While phrases render, progress is the share of phrases done, read from the chord's members
    (phrase tasks do not write the job document)."""
    if rendering_phrases(job):
        progress = chord_progress(kit, job.id)
        if progress is not None and progress.size:
            fraction = round(len(progress.done) / progress.size, 4)
            job = job.model_copy(update={"progress": Progress(stage=JobStage.PHRASES, fraction=fraction)})
    return Job.from_job(job)


@router.get("/{job_id}", response_model=Job, responses={404: {"model": Problem}})
def get_job(job_id: JobId, user: CurrentUser, kit: KitDep) -> Job:
    """One of the caller's jobs."""
    return with_live_progress(kit, _owned(kit, job_id, user.uid))


@router.get("/{job_id}/output", response_model=OutputUrls, responses={404: {"model": Problem}, 409: {"model": Problem}})
def job_output(job_id: JobId, user: CurrentUser, kit: KitDep, settings: SettingsDep) -> OutputUrls:
    """Short-lived signed URLs to a completed job's files: the WAV (`url`) and, where the job has them,
    the FLAC, the compressed file to listen to (with its type), the .ds and the display data."""
    job = _owned(kit, job_id, user.uid)
    if job.status is not JobStatus.COMPLETED or not job.output_path:
        raise HTTPException(409, f"the job is {job.status}; its output exists once it is completed")
    expiry = settings.signed_url_expiry_s
    named: dict[str, object] = job.outputs.model_dump() if job.outputs else {}
    # The assembly writes every file of a job into the WAV's attempt folder. A kind the job document
    # does not name (its outputs record wav, ds and display) is looked up there by its file name.
    folder = job.output_path.rpartition("/")[0]
    listen_types = {".mp3": "audio/mpeg", ".opus": "audio/ogg", ".ogg": "audio/ogg"}

    def key_of(kind: str, *filenames: str) -> str | None:
        stored = named.get(kind)
        if isinstance(stored, str) and stored:
            return stored
        found = (f"{folder}/{name}" for name in filenames if folder and kit.blobs.exists(f"{folder}/{name}"))
        return next(found, None)

    def sign(key: str | None) -> str | None:
        return kit.blobs.signed_url(key, method="GET", expires_s=expiry) if key else None

    listen = key_of("listen", "song.mp3", "song.opus")
    listen_ext = "." + listen.rpartition(".")[2] if listen else ""
    return OutputUrls(
        url=kit.blobs.signed_url(job.output_path, method="GET", expires_s=expiry),
        flac_url=sign(key_of("flac", "song.flac")),
        listen_url=sign(listen),
        listen_type=listen_types.get(listen_ext) if listen else None,
        ds_url=sign(key_of("ds")),
        display_url=sign(key_of("display")),
        expires_in_s=expiry,
    )


@router.post("/{job_id}/cancel", response_model=Job, responses={404: {"model": Problem}, 409: {"model": Problem}})
def cancel_job(job_id: JobId, user: CurrentUser, kit: KitDep) -> Job:
    """Cancel a pending job and refund its reservation."""
    return Job.from_job(jobs.cancel_job(kit.documents, job_id, user.uid))
