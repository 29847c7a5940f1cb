"""The installed voices: what the voice menu offers, and each voice's portrait.

Public: voices are not user data (names, authors, licences and portraits are what every user must be
shown), so neither route needs a signed-in user. The catalogue is read from the voice manifests
without torch (`singer_tasks.voices.catalog`).
"""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from api.deps import SettingsDep
from api.schemas import Problem, Voice, VoiceList
from singer_tasks.settings import SingerSettings
from singer_tasks.voices.catalog import VoiceInfo, list_voices

router = APIRouter(prefix="/v1/voices", tags=["voices"])
PORTRAIT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
PORTRAIT_MAX_AGE_S = 3600


def installed_voices(settings: SingerSettings) -> list[VoiceInfo]:
    """The catalogue (read on each call: installing a voice needs no restart)."""
    return list_voices(settings)


def portrait_path(name: str) -> str:
    """Where a voice's portrait is served, relative to the API's base URL."""
    return f"{router.prefix}/{name}/portrait"


def as_voice(entry: VoiceInfo) -> Voice:
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
    )


@router.get("", response_model=VoiceList)
def get_voices(settings: SettingsDep) -> VoiceList:
    """Every installed voice: languages, speakers, model stages, licence and portrait.

    `portraitUrl` is a path on this API. A job may name one of `speakers`; with a `duration` or
    `pitch` stage it may choose its `expression`.
    """
    return VoiceList(voices=[as_voice(v) for v in installed_voices(settings)])


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
