"""Render jobs: create (reserving credits), read, list, download, rename, cancel, delete."""

from __future__ import annotations

import time
from typing import Annotated

import structlog
from fastapi import APIRouter, HTTPException, Query, Response

from api.abuse import check_recent_failures
from api.deps import CurrentUser, KitDep, SettingsDep, TrustedUser
from api.params import JobId
from api.routes.uploads import StoredUpload, stored_upload
from api.schemas import Job, JobCreate, JobPage, JobRename, OutputUrls, Problem, Progress
from singer_tasks.errors import SingerError
from singer_tasks.jobs import model
from singer_tasks.jobs import transitions as jobs
from singer_tasks.jobs.account import delete_job_files
from singer_tasks.jobs.model import JobStage, JobStatus
from singer_tasks.jobs.shares import delete_job_shares
from singer_tasks.kit import RENDER_TASK, render_task_id, render_topic
from singer_tasks.score.sniff import sniff_score
from taskkit import Kit, TaskkitError, chord_progress

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


def _find_upload(kit: KitDep, uid: str, score_id: str, settings: SettingsDep) -> StoredUpload:
    """The caller's upload for `score_id`, checked to be a MusicXML score of allowed size."""
    found = stored_upload(kit, uid, score_id, settings)  # 404 when there is none
    data = kit.blobs.get(found.key)
    filename = found.upload.filename
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"{filename} is larger than the {settings.max_upload_bytes} byte limit")
    try:
        sniff_score(data)
    except SingerError as e:  # UnreadableScore: 415 through the SingerError handler, naming the file
        raise type(e)(f"{filename}: {e}") from e
    return found


def _check_choices(body: JobCreate, found: StoredUpload) -> None:
    """400 unless the verse and part asked for are ones the score has (naming those it has)."""
    info, filename = found.info, found.upload.filename
    if (body.verse or body.part) and not found.readable:
        raise HTTPException(400, f"{filename} could not be read, so no verse or part can be chosen; upload it again")
    if body.verse is not None and body.verse not in info.verses:
        have = ", ".join(repr(v) for v in info.verses) or "none: the score has no lyrics"
        raise HTTPException(400, f"{filename} has no verse {body.verse!r}; its verses are {have}")
    if body.part is not None and info.part(body.part) is None:
        have = ", ".join(f"{p.id!r} ({p.name})" for p in info.parts)
        raise HTTPException(400, f"{filename} has no part {body.part!r}; its parts are {have}")


@router.post("", response_model=Job, status_code=202, responses=ERRORS)  # type: ignore[arg-type]
def create_job(body: JobCreate, user: TrustedUser, kit: KitDep, settings: SettingsDep) -> Job:
    """Reserve the most this render type can cost and queue the render (with the song's options: key
    shift, tempo, verse, part; the title defaults to the score's)."""
    check_recent_failures(kit.documents, user.uid, settings)
    found = _find_upload(kit, user.uid, body.score_id, settings)
    _check_choices(body, found)
    request = jobs.JobRequest(
        uid=user.uid,
        input_path=found.key,
        render_type=body.render_type,
        voice=body.voice or settings.default_voice,
        language=body.language,
        expression=body.expression,
        speaker=body.speaker,
        title=body.title or found.upload.title,
        filename=found.upload.filename,
        key_shift=body.key_shift,
        tempo_factor=body.tempo_factor,
        verse=body.verse,
        part=body.part,
    )
    job = jobs.create_job(kit.documents, request, settings)
    try:
        topic = render_topic(job.render_type, settings.gpu_topic, settings.gpu_render_types)
        kit.send_task(RENDER_TASK, {"job_id": job.id}, task_id=render_task_id(job.id), topic=topic)
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


def with_live_progress(kit: Kit, job: model.Job, now: float | None = None) -> Job:
    """While phrases render, progress is the share of phrases done, read from the chord's members
    (phrase tasks do not write the job document), with an estimate of the time left."""
    answer = Job.from_job(job)
    if rendering_phrases(job):
        progress = chord_progress(kit, job.id)
        if progress is not None and progress.size:
            done, total = len(progress.done), progress.size
            live = Progress(
                stage=JobStage.PHRASES,
                fraction=round(done / total, 4),
                done=done,
                total=total,
                eta_seconds=eta_seconds(done, total, job.progress.stage_started_at, now or time.time()),
            )
            answer = answer.model_copy(update={"progress": live})
    return answer


def eta_seconds(done: int, total: int, started_at: float | None, now: float) -> float | None:
    """Seconds left at the pace of the phrases done since the phrase stage began; None before the first
    phrase is done (or for a job whose document does not say when the stage began)."""
    if done <= 0 or started_at is None:
        return None
    pace_s = max(0.0, now - started_at) / done
    return round(pace_s * max(0, total - done), 1)


@router.get("/{job_id}", response_model=Job, responses={404: {"model": Problem}})
def get_job(job_id: JobId, user: CurrentUser, kit: KitDep) -> Job:
    """One of the caller's jobs."""
    return with_live_progress(kit, _owned(kit, job_id, user.uid))


LISTEN_TYPES = {".mp3": "audio/mpeg", ".opus": "audio/ogg", ".ogg": "audio/ogg"}


def output_key(kit: Kit, job: model.Job, kind: str, *filenames: str) -> str | None:
    """The blob key of a completed job's file of `kind` (wav, flac, listen, ds, display).

    The assembly writes every file of a job into the WAV's attempt folder. A kind the job document does
    not name (older jobs recorded only wav, ds and display) is looked up there by `filenames`."""
    stored = (job.outputs.model_dump() if job.outputs else {}).get(kind)
    if isinstance(stored, str) and stored:
        return stored
    folder = (job.output_path or "").rpartition("/")[0]
    found = (f"{folder}/{name}" for name in filenames if folder and kit.blobs.exists(f"{folder}/{name}"))
    return next(found, None)


def listen_key(kit: Kit, job: model.Job) -> str | None:
    """The compressed file to listen to (MP3; Opus in older jobs), if the job has one."""
    return output_key(kit, job, "listen", "song.mp3", "song.opus")


def listen_type(key: str | None) -> str | None:
    """The content type of a listening file, from its extension."""
    return LISTEN_TYPES.get("." + key.rpartition(".")[2]) if key else None


@router.get("/{job_id}/output", response_model=OutputUrls, responses={404: {"model": Problem}, 409: {"model": Problem}})
def job_output(job_id: JobId, user: CurrentUser, kit: KitDep, settings: SettingsDep) -> OutputUrls:
    """Short-lived signed URLs to a completed job's files: the WAV (`url`) and, where the job has them,
    the FLAC, the compressed file to listen to (with its type), the .ds and the display data."""
    job = _owned(kit, job_id, user.uid)
    if job.status is not JobStatus.COMPLETED or not job.output_path:
        raise HTTPException(409, f"the job is {job.status}; its output exists once it is completed")
    expiry = settings.signed_url_expiry_s

    def sign(key: str | None) -> str | None:
        return kit.blobs.signed_url(key, method="GET", expires_s=expiry) if key else None

    listen = listen_key(kit, job)
    return OutputUrls(
        url=kit.blobs.signed_url(job.output_path, method="GET", expires_s=expiry),
        flac_url=sign(output_key(kit, job, "flac", "song.flac")),
        listen_url=sign(listen),
        listen_type=listen_type(listen),
        ds_url=sign(output_key(kit, job, "ds")),
        display_url=sign(output_key(kit, job, "display")),
        expires_in_s=expiry,
    )


@router.post("/{job_id}/cancel", response_model=Job, responses={404: {"model": Problem}, 409: {"model": Problem}})
def cancel_job(job_id: JobId, user: CurrentUser, kit: KitDep) -> Job:
    """Cancel a pending or processing job and refund its whole reservation (nothing is charged). The
    phrases not yet sung and the assembly skip; 409 for a job that has already ended."""
    return Job.from_job(jobs.cancel_job(kit.documents, job_id, user.uid))


@router.patch("/{job_id}", response_model=Job, responses={404: {"model": Problem}})
def rename_job(job_id: JobId, body: JobRename, user: CurrentUser, kit: KitDep) -> Job:
    """Rename a song (in any status)."""
    return with_live_progress(kit, jobs.rename_job(kit.documents, job_id, user.uid, body.title.strip() or body.title))


@router.delete("/{job_id}", status_code=204, response_class=Response, responses={404: {"model": Problem}})
def delete_job(job_id: JobId, user: CurrentUser, kit: KitDep) -> Response:
    """Delete a song: its outputs, its intermediate files and its document. A job in flight is
    cancelled first (refunded). The uploaded score is kept: other songs may use it."""
    job = jobs.delete_job_document(kit.documents, job_id, user.uid)
    delete_job_shares(kit.documents, job.id)  # its link already answers 404; the record goes too
    delete_job_files(kit.blobs, job.id)
    log.info("job.deleted", job_id=job.id, status=str(job.status))
    return Response(status_code=204)
