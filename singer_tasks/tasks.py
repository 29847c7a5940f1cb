"""The render task: a job's score in, its WAV (and what the web app draws) out, on taskkit.

The worker imports this module (it is `[tool.taskkit] app`); the API never does. Every write to the
job and the ledger is a fenced transaction, outputs go to attempt-specific keys and become visible
only through the fenced completion, so a stale attempt can neither double-charge nor overwrite.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time
import wave
from collections.abc import Callable
from typing import Any

import numpy as np
import structlog

import taskkit
from singer_tasks import jobs
from singer_tasks.ds import Phrase, PhraseFormatError, dumps_ds
from singer_tasks.limits import ScoreLimits
from singer_tasks.score import Score, ScoreError, SongTooLong
from singer_tasks.service import RENDER_TASK, RENDER_TOPIC, ServiceSettings, kit, render_task_id
from singer_tasks.voice_errors import CheckpointError, PhonemeError, RenderInputError, VoiceConfigError, VoiceError

log = structlog.get_logger("singer.render")
PROGRESS_INTERVAL_S = 1.0


def _error_code(exc: BaseException) -> str:
    if isinstance(exc, PhonemeError):
        return "voice_lacks_phoneme"
    if isinstance(exc, CheckpointError | VoiceConfigError):
        return "voice_unavailable"
    if isinstance(exc, RenderInputError):
        return "bad_render_input"
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else type(exc).__name__


class Progress:
    """Throttled, fenced progress writes: at most one per interval, stage changes always."""

    def __init__(self, ctx: taskkit.TaskContext, job_id: str) -> None:
        self.ctx, self.job_id = ctx, job_id
        self.last_write = 0.0
        self.stage = ""

    def __call__(self, stage: str, fraction: float) -> None:
        self.ctx.check_time()
        now = time.monotonic()
        if stage == self.stage and now - self.last_write < PROGRESS_INTERVAL_S:
            return
        self.stage, self.last_write = stage, now
        jobs.set_progress(self.ctx.transaction, self.job_id, stage, fraction)


def encode_wav(samples: np.ndarray, sample_rate: int) -> bytes:
    """Mono 16-bit PCM WAV bytes."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def display_data(score: Score, phrases: list[Phrase], seconds: float) -> dict[str, Any]:
    """What the web app draws: notes with lyrics, phonemes with times, and a 20 ms f0 curve."""
    notes = [
        {"onset": round(n.onset_s, 4), "duration": round(n.duration_s, 4), "pitch": n.midi, "lyric": n.lyric}
        for n in score.notes
    ]
    phonemes, f0 = [], []
    for p in phrases:
        t = p.offset_s
        for ph, dur in zip(p.ph_seq, p.ph_dur_s, strict=True):
            phonemes.append({"start": round(t, 4), "duration": round(dur, 4), "phoneme": ph})
            t += dur
        stride = max(1, round(0.02 / p.f0_timestep_s))
        f0 += [
            [round(p.offset_s + i * p.f0_timestep_s, 3), round(hz, 1)]
            for i, hz in enumerate(p.f0_hz)
            if i % stride == 0
        ]
    return {"duration": round(seconds, 4), "notes": notes, "phonemes": phonemes, "f0": f0}


def _limits(settings: ServiceSettings) -> ScoreLimits:
    base = ScoreLimits.from_env()
    return dataclasses.replace(
        base, max_score_bytes=min(base.max_score_bytes, settings.max_upload_bytes), max_song_s=settings.max_song_seconds
    )


def _render(ctx: taskkit.TaskContext, job: dict[str, Any], settings: ServiceSettings) -> tuple[dict[str, str], float]:
    """The pipeline for one job; returns the output keys (attempt-specific) and the song length."""
    from singer_tasks.parse import parse_score
    from singer_tasks.phonemize import score_to_phrases
    from singer_tasks.pipeline import render_phrases
    from singer_tasks.render_command import _phonemizer_dictionary
    from singer_tasks.runtime import get_voice

    job_id = job["id"]
    progress = Progress(ctx, job_id)
    progress("download", 0.0)
    data = kit.blobs.get(job["inputPath"])
    progress("parse", 0.0)
    score = parse_score(data, job["inputPath"].rsplit("/", 1)[-1], limits=_limits(settings))
    voice = get_voice(job.get("voice") or settings.default_voice)
    progress("phonemize", 0.0)
    phrases = score_to_phrases(score, language=job.get("language"), dictionary=_phonemizer_dictionary(voice))
    song_end = max((p.offset_s + p.duration_s for p in phrases), default=0.0)
    if song_end > settings.max_song_seconds:
        raise SongTooLong(
            f"the song lasts {song_end:.0f} s and the limit is {settings.max_song_seconds:.0f} s; "
            "shorten the score or split it"
        )
    steps = settings.preview_steps if job.get("renderType") == "preview" else None
    song = render_phrases(
        phrases,
        voice,
        steps=steps,
        progress=lambda stage, fraction: progress("acoustic" if stage == "render" else stage, fraction),
        check_time=ctx.check_time,
    )
    progress("upload", 0.0)
    # The WAV spans the whole score, trailing rests included, so it lines up with the notation.
    song = np.pad(song, (0, max(0, round(score.duration_s * voice.sample_rate) - len(song))))
    seconds = len(song) / voice.sample_rate
    prefix = f"jobs/{job_id}"
    keys = {
        "wav": ctx.attempt_key("output.wav", prefix=prefix),
        "ds": ctx.attempt_key("song.ds", prefix=prefix),
        "display": ctx.attempt_key("display.json", prefix=prefix),
    }
    kit.blobs.put(keys["wav"], encode_wav(song, voice.sample_rate), content_type="audio/wav")
    kit.blobs.put(keys["ds"], dumps_ds(phrases).encode(), content_type="application/json")
    display = json.dumps(display_data(score, phrases, seconds)).encode()
    kit.blobs.put(keys["display"], display, content_type="application/json")
    return keys, seconds


def render_failed(failure: taskkit.Failure) -> None:
    """Failure hook: the job ends failed with the error and a full refund (at most once)."""
    ctx = taskkit.current_or_none()
    job_id = str(failure.kwargs.get("job_id", ""))
    if not job_id:
        return
    transact: Callable[..., Any] = ctx.transaction if ctx is not None else kit.documents.transaction
    if jobs.fail_job(transact, job_id, code=failure.code, message=failure.message):
        log.error("job.failed", job_id=job_id, code=failure.code, error=failure.message)


@kit.task(
    name=RENDER_TASK,
    topic=RENDER_TOPIC,
    max_attempts=3,
    min_backoff_s=5.0,
    max_backoff_s=60.0,
    time_limit_s=ServiceSettings.from_env().render_time_limit_s,
    on_failure=render_failed,
)
def render(job_id: str) -> dict[str, Any] | None:
    """Render a job's score to WAV and settle its credits."""
    ctx = taskkit.current()
    settings = ServiceSettings.from_env()
    job = jobs.start_job(ctx.transaction, job_id)
    if job is None:
        log.info("job.skipped", job_id=job_id, reason="already ended or missing")
        return None
    job["id"] = job_id
    with structlog.contextvars.bound_contextvars(job_id=job_id):
        try:
            keys, seconds = _render(ctx, job, settings)
        except (ScoreError, VoiceError, PhraseFormatError) as e:
            raise taskkit.Reject(str(e), code=_error_code(e)) from e
        except taskkit.NotFound as e:
            raise taskkit.Reject(
                "the uploaded score is no longer stored; upload it again and create a new job", code="input_missing"
            ) from e
        if not jobs.complete_job(ctx.transaction, job_id, output=keys, seconds=seconds, settings=settings):
            log.info("job.not_completed", reason="job left processing (cancelled?) while rendering")
            return None
        log.info("job.completed", seconds=round(seconds, 2), output=keys["wav"])
    return {"seconds": round(seconds, 3)}


@kit.reconciler
def republish_stale_jobs(k: taskkit.Kit) -> int:
    """Jobs still pending long after creation lost their message: send it again, same task id."""
    settings = ServiceSettings.from_env()
    cutoff = time.time() - settings.stale_pending_s
    stale = k.documents.query("jobs", [("status", "==", "pending"), ("updatedAt", "<", cutoff)], limit=500)
    for snap in stale:
        k.send_task(RENDER_TASK, {"job_id": snap.id}, task_id=render_task_id(snap.id), topic=RENDER_TOPIC)
    return len(stale)


__all__ = ["kit", "render", "render_failed", "republish_stale_jobs"]
