"""The installed voices: what the voice menu offers, and each voice's portrait.

Public: voices are not user data (names, authors, licences and portraits are what every user must be
shown), so neither route needs a signed-in user. The catalogue is read from the voice manifests
without torch (`singer_tasks.voices.catalog`).
"""

from __future__ import annotations

import hashlib
import json
import mimetypes

import structlog
from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from api.deps import KitDep, SettingsDep
from api.schemas import Problem, Voice, VoiceList
from singer_tasks.errors import SingerError
from singer_tasks.kit import RENDER_TOPIC
from singer_tasks.settings import SingerSettings
from singer_tasks.voices.catalog import VoiceInfo, list_voices
from singer_tasks.voices.manifest import find_manifest
from taskkit import TaskkitError
from taskkit.lease import lease_path

router = APIRouter(prefix="/v1/voices", tags=["voices"])
PORTRAIT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
PORTRAIT_MAX_AGE_S = 3600
# Voice samples (singer_tasks/render/samples.py renders them): kept under their own prefix, no lifecycle.
SAMPLE_PREFIX = "voice-samples"
SAMPLE_TASK = "singer.voice_sample"
SAMPLE_RETRY_S = 5
log = structlog.get_logger("api.voices")


def installed_voices(settings: SingerSettings) -> list[VoiceInfo]:
    """The catalogue (read on each call: installing a voice needs no restart)."""
    return list_voices(settings)


def portrait_path(name: str) -> str:
    """Where a voice's portrait is served, relative to the API's base URL."""
    return f"{router.prefix}/{name}/portrait"


def sample_path(name: str) -> str:
    """Where a voice's sample is served, relative to the API's base URL."""
    return f"{router.prefix}/{name}/sample"


def final_differs(entry: VoiceInfo, settings: SingerSettings) -> bool:
    """Whether a final render sounds different from a preview: the two differ only in sampler steps
    (`render_options`: preview uses SINGER_PREVIEW_STEPS, final the voice's own), which the built-in
    DSP voice has none of; a voice whose default steps equal the preview's renders the same either way."""
    if entry.kind == "builtin":
        return False
    try:
        steps = find_manifest(entry.name, settings.voices_dir).defaults.steps
    except SingerError:
        return True  # not readable here (a voice in the bucket): assume its models' own steps differ
    return steps != settings.preview_steps


def voice_version(entry: VoiceInfo) -> str:
    """A short hash of the voice's files (name, size, modification time): a new version renders a new sample."""
    root = entry.folder
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []
    stats = [(p.relative_to(root).as_posix() if p != root else p.name, p.stat().st_size, p.stat().st_mtime_ns)
             for p in files]  # fmt: skip
    material = json.dumps({"name": entry.name, "kind": entry.kind, "files": stats})
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def voice_sample_key(name: str, version: str) -> str:
    """Where a voice's sample is stored."""
    return f"{SAMPLE_PREFIX}/{name}/{version}.wav"


def as_voice(entry: VoiceInfo, settings: SingerSettings | None = None) -> Voice:
    """The menu's view of a catalogue entry."""
    return Voice(
        name=entry.name,
        author=entry.author,
        description=entry.description or None,
        languages=list(entry.languages),
        speakers=list(entry.speakers),
        stages=list(entry.stages),
        licence=entry.licence or None,
        portrait_url=portrait_path(entry.name) if entry.portrait is not None else None,
        sample_url=sample_path(entry.name),
        final_differs=final_differs(entry, settings) if settings is not None else entry.kind != "builtin",
    )


@router.get("", response_model=VoiceList)
def get_voices(settings: SettingsDep) -> VoiceList:
    """Every installed voice: languages, speakers, model stages, licence and portrait.

    `portraitUrl` is a path on this API. A job may name one of `speakers`; with a `duration` or
    `pitch` stage it may choose its `expression`.
    """
    return VoiceList(voices=[as_voice(v, settings) for v in installed_voices(settings)])


@router.get(
    "/{name}/sample",
    status_code=307,
    response_class=RedirectResponse,
    responses={
        202: {"model": Problem, "description": "the sample is being rendered: GET again after Retry-After seconds"},
        404: {"model": Problem},
    },
)
def voice_sample(name: str, settings: SettingsDep, kit: KitDep) -> Response:
    """A few seconds of the voice singing (a WAV): a redirect to it once rendered; until then 202 with
    Retry-After, the first request having queued its rendering (once per voice version)."""
    entry = next((v for v in installed_voices(settings) if v.name == name), None)
    if entry is None:
        raise HTTPException(404, f"no voice {name!r} is installed: GET /v1/voices lists them")
    version = voice_version(entry)
    key = voice_sample_key(name, version)
    if kit.blobs.exists(key):
        url = kit.blobs.signed_url(key, method="GET", expires_s=settings.signed_url_expiry_s)
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "private, max-age=60"})
    # The task id names the voice version: every request until the sample exists sends the same task.
    task_id = f"voice-sample-{name}-{version}"
    lease = kit.documents.get(lease_path(task_id)) or {}
    if lease.get("status") == "failed":
        problem = Problem(detail=f"the voice {name!r} could not sing its sample: {lease.get('error') or 'failed'}")
        return JSONResponse(problem.model_dump(), status_code=500)
    try:
        kit.send_task(SAMPLE_TASK, {"voice": name, "key": key}, task_id=task_id, topic=RENDER_TOPIC)
    except TaskkitError:
        log.exception("voice_sample.publish_failed", voice=name)
    problem = Problem(detail=f"the sample of {name!r} is being rendered; try again in a few seconds")
    return JSONResponse(problem.model_dump(), status_code=202, headers={"Retry-After": str(SAMPLE_RETRY_S)})


@router.get(
    "/{name}/portrait",
    response_class=FileResponse,
    responses={200: {"content": {t: {} for t in sorted(set(PORTRAIT_TYPES.values()))}}, 404: {"model": Problem}},
)
def voice_portrait(name: str, settings: SettingsDep) -> FileResponse:
    """The voice's portrait image (404 for an unknown voice or one without a portrait)."""
    entry = next((v for v in installed_voices(settings) if v.name == name), None)
    if entry is None:
        raise HTTPException(404, f"no voice {name!r} is installed: GET /v1/voices lists them")
    if entry.portrait is None or not entry.portrait.is_file():
        raise HTTPException(404, f"the voice {name!r} has no portrait")
    suffix = entry.portrait.suffix.lower()
    media_type = PORTRAIT_TYPES.get(suffix) or mimetypes.guess_type(entry.portrait.name)[0]
    if media_type is None or not media_type.startswith("image/"):
        raise HTTPException(404, f"the voice {name!r} has no portrait in an image format")
    headers = {"Cache-Control": f"public, max-age={PORTRAIT_MAX_AGE_S}"}
    return FileResponse(entry.portrait, media_type=media_type, headers=headers)
