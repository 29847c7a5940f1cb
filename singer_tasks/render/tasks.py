"""The render job on taskkit: a chord of one task per phrase, then an assembly.

`singer.render` (task id `render-{jobId}`) marks the job processing, parses and phonemizes the score
and sends a chord: `singer.render_phrase` per phrase (`{jobId}:{index}`), each inside the push time
limit and served from the phrase cache when it can be, then `singer.assemble` (`{jobId}:assemble`),
which joins the phrases, writes the outputs under attempt-specific keys and, in one fenced
transaction, points the job at them, marks it completed and settles the credits. Any task that fails
for good fails the job once with a refund (the failure hook); phrase tasks of an ended job skip.

The worker imports this module (it is `[tool.taskkit] app`); the API never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import structlog

import singer_tasks.jobs.refill  # noqa: F401 - registers the monthly refill reconciler on the kit
import taskkit
from singer_tasks.errors import SingerError
from singer_tasks.jobs import transitions as jobs
from singer_tasks.jobs.model import JOBS, Job, JobStage, JobStatus, job_path
from singer_tasks.kit import RENDER_TASK, RENDER_TOPIC, kit, render_task_id, render_topic
from singer_tasks.render import job as render_job
from singer_tasks.render import phrase_cache, streaming
from singer_tasks.render.plan import Plan
from singer_tasks.render.samples import voice_sample  # noqa: F401 - registers singer.voice_sample on the kit
from singer_tasks.settings import get_settings
from singer_tasks.voices.device import voice_device
from singer_tasks.voices.loader import get_voice
from singer_tasks.voices.runtime import configure_torch
from singer_tasks.voices.warmup import warm_up
from taskkit.sweep import expire_local_blobs

log = structlog.get_logger("singer.render")
PROGRESS_INTERVAL_S = 1.0
PHRASE_TASK = "singer.render_phrase"
ASSEMBLE_TASK = "singer.assemble"
_settings = get_settings()  # task time limits are declared with the tasks; a bad setting fails the import


def _as_rejection(fn: Callable[[], Any], *, filename: str = "") -> Any:
    """Run `fn`; a bad score, voice or missing input becomes a permanent failure with its code (a missing
    score named by the user's `filename`)."""
    try:
        return fn()
    except SingerError as e:
        raise taskkit.Reject(str(e), code=e.code) from e
    except taskkit.NotFound as e:
        score = filename or "the uploaded score"
        raise taskkit.Reject(
            f"{score} is no longer stored; upload it again and create a new job", code="input_missing"
        ) from e


def _configure_threads() -> None:
    """Pin torch to this worker's share of the CPUs (the embedded stack gives each worker a share)."""
    share = kit.settings.worker_cpus
    configure_torch(threads=max(1, int(share)) if share else None)


class Progress:
    """Throttled, fenced progress writes: at most one per interval, stage changes always."""

    def __init__(self, ctx: taskkit.TaskContext, job_id: str) -> None:
        self.ctx, self.job_id = ctx, job_id
        self.last_write = 0.0
        self.stage: JobStage | None = None

    def __call__(self, stage: JobStage | str, fraction: float) -> None:
        """Record `stage` (one of JobStage's values; anything else is a bug: ValueError) at `fraction`."""
        self.ctx.check_time()
        current = JobStage(stage)
        now = time.monotonic()
        if current is self.stage and now - self.last_write < PROGRESS_INTERVAL_S:
            return
        self.stage, self.last_write = current, now
        jobs.set_progress(self.ctx.transaction, self.job_id, current, fraction)


def render_failed(failure: taskkit.Failure) -> None:
    """Failure hook of every render task: the job ends failed with the error and a full refund, once."""
    ctx = taskkit.current_or_none()
    job_id = str(failure.kwargs.get("job_id", ""))
    if not job_id:
        return
    transact: Callable[..., Any] = ctx.transaction if ctx is not None else kit.documents.transaction
    if jobs.fail_job(transact, job_id, code=failure.code, message=failure.message):
        log.error("job.failed", job_id=job_id, code=failure.code, error=failure.message, task=failure.task)


# What the three render tasks share: their topic, retries, and the hook that fails the job for good.
TASK_OPTIONS: dict[str, Any] = {
    "topic": RENDER_TOPIC,
    "max_attempts": 3,
    "min_backoff_s": 5.0,
    "max_backoff_s": 60.0,
    "on_failure": render_failed,
}


def _live_job(job_id: str) -> Job | None:
    """The job if it is still being rendered, else None (its phrase tasks then skip)."""
    data = kit.documents.get(job_path(job_id))
    job = None if data is None else Job.from_document(job_id, data)
    return job if job is not None and job.status is JobStatus.PROCESSING else None


@kit.task(name=RENDER_TASK, time_limit_s=min(120.0, _settings.render_time_limit_s), **TASK_OPTIONS)
def render(job_id: str) -> dict[str, Any] | None:
    """Start a job: parse and phonemize its score, then send one task per phrase and the assembly."""
    ctx = taskkit.current()
    settings = get_settings()
    job = jobs.start_job(ctx.transaction, job_id)
    if job is None:
        log.info("job.skipped", job_id=job_id, reason="already ended or missing")
        return None
    progress = Progress(ctx, job_id)
    voice = job.voice or settings.default_voice

    def prepare() -> Plan:
        return render_job.prepare(
            kit.blobs, job_id, job.input_path, voice, job.language, settings, progress, filename=job.filename,
            key_shift=job.key_shift, tempo_factor=job.tempo_factor, verse=job.verse, part=job.part,
        )  # fmt: skip

    plan = _as_rejection(prepare, filename=job.filename)
    if _live_job(job_id) is None:  # cancelled (or deleted) while the score was read: sing nothing
        log.info("job.skipped", job_id=job_id, reason="cancelled while preparing")
        return None
    # The song as it will be sung, for the piano roll while the phrases render (GET /v1/jobs/{id}/phrases).
    streaming.store_display(kit.blobs, job_id, plan)
    # The phrase count and the stage's start let the API report phrases done and the time left.
    jobs.set_progress(ctx.transaction, job_id, JobStage.PHRASES, 0.0, total=len(plan.phrases))
    members = [
        render_phrase.signature({"job_id": job_id, "index": i}, task_id=f"{job_id}:{i}")
        for i in range(len(plan.phrases))
    ]
    callback = assemble.signature({"job_id": job_id}, task_id=f"{job_id}:assemble")
    # The tier is chosen once, here: the phrases and the assembly stay on it (retries redeliver on it).
    topic = render_topic(job.render_type, settings.gpu_topic, settings.gpu_render_types)
    members, callback = [replace(m, topic=topic) for m in members], replace(callback, topic=topic)
    # The chord publishes its members in index order, so the first phrases render (and play) first.
    taskkit.chord(members, callback, chord_id=job_id).apply_async(kit)
    log.info("job.fanned_out", job_id=job_id, phrases=len(members))
    return {"phrases": len(members)}


@kit.task(name=PHRASE_TASK, time_limit_s=_settings.render_time_limit_s, **TASK_OPTIONS)
def render_phrase(job_id: str, index: int) -> dict[str, Any]:
    """Render one phrase into the phrase cache (or find it there)."""
    ctx = taskkit.current()
    job = _live_job(job_id)
    if job is None:
        return {"skipped": True}
    _configure_threads()
    settings = get_settings()
    plan = Plan.from_json(kit.blobs.get(render_job.plan_key(job_id)))
    voice_name = job.voice or settings.default_voice
    options = render_job.render_options(job.render_type, settings, expression=job.expression, speaker=job.speaker)
    key, sample_rate = _as_rejection(
        lambda: render_job.render_one(kit.blobs, plan, index, voice_name, options, settings, ctx.check_time)
    )
    # Sound within seconds: the phrase as a WAV its owner may play now (render/streaming.py).
    sung = phrase_cache.load(kit.blobs, key)
    if sung is None:
        raise taskkit.Retry(f"phrase {index} of job {job_id} is not in the cache yet")
    streamed = streaming.store_phrase(kit.blobs, job_id, plan, index, sung, sample_rate)
    _note_ready(ctx, job_id, index, settings.ready_phrases_interval_s)
    device = voice_device(get_voice(voice_name, settings.voices_dir, kit.blobs))
    return {"cache": key, "sampleRate": sample_rate, "device": device, **streamed}


def _note_ready(ctx: taskkit.TaskContext, job_id: str, index: int, interval_s: float) -> None:
    """Batched `readyPhrases` on the job document (for clients that listen to it, not to the API)."""
    progress = taskkit.chord_progress(kit, job_id)
    done = {int(t.rsplit(":", 1)[1]) for t in (progress.done if progress else ()) if t.rsplit(":", 1)[1].isdigit()}
    streaming.note_ready(ctx.transaction, job_id, done | {index}, interval_s=interval_s)


@kit.task(name=ASSEMBLE_TASK, time_limit_s=min(120.0, _settings.render_time_limit_s), **TASK_OPTIONS)
def assemble(job_id: str) -> dict[str, Any] | None:
    """Join the rendered phrases, store the outputs, complete the job and charge it (fenced)."""
    ctx = taskkit.current()
    job = _live_job(job_id)
    if job is None:
        return None
    settings = get_settings()
    plan = Plan.from_json(kit.blobs.get(render_job.plan_key(job_id)))
    pieces, rates, devices = [], set(), set()
    for index in range(len(plan.phrases)):
        result = taskkit.member_result(kit, f"{job_id}:{index}") or {}
        devices.add(str(result.get("device") or "cpu"))
        cached = phrase_cache.load(kit.blobs, str(result.get("cache", "")))
        if cached is None:
            raise taskkit.Retry(f"phrase {index} of job {job_id} is not in the cache yet")
        pieces.append(cached)
        rates.add(int(result["sampleRate"]))
    # The phrase tasks report the sample rate, so the assembly never loads the voice's models.
    sample_rate = rates.pop()
    seconds, files = render_job.assemble_outputs(plan, pieces, sample_rate)
    # Every phrase is ready (the last batch of readyPhrases), and where the job was sung.
    streaming.note_ready(ctx.transaction, job_id, range(len(plan.phrases)), interval_s=0.0, final=True,
                         extra={streaming.DEVICE_FIELD: ",".join(sorted(devices))})  # fmt: skip
    keys = {}
    for kind, (filename, data, content_type) in files.items():
        keys[kind] = ctx.attempt_key(filename, prefix=render_job.output_prefix(job_id))
        kit.blobs.put(keys[kind], data, content_type=content_type)
    if not jobs.complete_job(ctx.transaction, job_id, output=keys, seconds=seconds, settings=settings):
        # Cancelled (or failed) while assembling: the cancel won, nothing is charged, and no one will
        # ever be pointed at these files.
        for key in keys.values():
            kit.blobs.delete(key)
        log.info("job.not_completed", job_id=job_id, reason="the job left processing while rendering")
        return None
    # What the completion charged (the dashboard's credits-charged metric reads it from this line).
    settled = kit.documents.get(job_path(job_id)) or {}
    charged = int((settled.get("credits") or {}).get("charged", 0))
    log.info("job.completed", job_id=job_id, seconds=round(seconds, 2), phrases=len(pieces), credits=charged)
    return {"seconds": round(seconds, 3)}


@kit.reconciler
def republish_stale_jobs(k: taskkit.Kit) -> int:
    """Jobs still pending long after creation lost their message: send it again, same task id."""
    settings = get_settings()
    cutoff = time.time() - settings.stale_pending_s
    stale = k.documents.query(JOBS, [("status", "==", JobStatus.PENDING.value), ("updatedAt", "<", cutoff)], limit=500)
    for snap in stale:
        topic = render_topic(str(snap.data.get("renderType")), settings.gpu_topic, settings.gpu_render_types)
        k.send_task(RENDER_TASK, {"job_id": snap.id}, task_id=render_task_id(snap.id), topic=topic)
    return len(stale)


@kit.on_worker_start
def load_default_voice(k: taskkit.Kit) -> None:
    """Load the default voice's models and render a short silence with them while the worker starts, so
    its first phrase waits neither for the models nor for their one-time costs (voices/warmup.py): the
    time to first sound of a song includes all of it."""
    settings = get_settings()
    _configure_threads()
    warm_up(get_voice(settings.default_voice, settings.voices_dir, k.blobs), settings.default_voice)


@kit.reconciler
def expire_old_blobs(k: taskkit.Kit) -> int:
    """The bucket's lifecycle rules, applied by the sweep on the local family (on gcp the bucket's own
    rules do it and this deletes nothing), so a long-lived embedded stack does not grow without bound."""
    return expire_local_blobs(k, get_settings().blob_lifecycle_rules())


__all__ = [
    "assemble",
    "expire_old_blobs",
    "kit",
    "load_default_voice",
    "render",
    "render_failed",
    "render_phrase",
    "republish_stale_jobs",
]
