"""Score uploads: a signed PUT URL for the browser, or a small multipart upload through the API.

For each score `uploads/{uid}/{scoreId}.musicxml|.mxl` the API keeps what a quick, bounded read of
it found (`singer_tasks.score.info`: title, verse labels, parts) and the user's file name, in the
document `users/{uid}/uploads/{scoreId}`. A multipart upload reads it at once; a signed-URL upload stores
the file name when the URL is issued and is read on the first `GET /v1/uploads/{scoreId}` (or job
creation) after the browser's PUT. Job creation validates a verse and part against it and takes the
title and file name from it, without parsing the score again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.abuse import reserve_upload
from api.deps import CurrentUser, KitDep, SettingsDep, TrustedUser
from api.params import ScoreId
from api.schemas import Problem, ScorePart, Upload, UploadUrl, UploadUrlRequest
from singer_tasks.errors import SingerError
from singer_tasks.jobs.model import upload_info_path, upload_key
from singer_tasks.score.info import ScoreInfo, file_stem, read_score_info
from singer_tasks.score.limits import ScoreLimits
from singer_tasks.score.sniff import sniff_score
from singer_tasks.settings import SingerSettings
from taskkit import Kit

router = APIRouter(prefix="/v1/uploads", tags=["uploads"])
CONTENT_TYPES = {".musicxml": "application/vnd.recordare.musicxml+xml", ".mxl": "application/vnd.recordare.musicxml"}


def extension_for(filename: str) -> str:
    """'.musicxml' or '.mxl' for an accepted file name; 400 otherwise."""
    lower = filename.lower()
    if lower.endswith((".musicxml", ".xml")):
        return ".musicxml"
    if lower.endswith(".mxl"):
        return ".mxl"
    raise HTTPException(400, f"{filename!r} is not a MusicXML file name: use .musicxml, .xml or .mxl")


QUOTA_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": Problem, "description": "email not verified"},
    413: {"model": Problem, "description": "too large, or over the storage quota"},
    429: {"model": Problem, "description": "too many uploads this hour"},
}


@router.post("/url", response_model=UploadUrl, responses={400: {"model": Problem}, **QUOTA_ERRORS})
def upload_url(body: UploadUrlRequest, user: TrustedUser, kit: KitDep, settings: SettingsDep) -> UploadUrl:
    """A signed URL to PUT one score to, bound to its content type and the size limit; create-only (the
    object cannot be replaced once written, so a job always renders the score it was created from)."""
    ext = extension_for(body.filename)
    # The size is unknown until the browser PUTs: the quota counts the most the URL allows.
    reserve_upload(kit.documents, user.uid, settings.max_upload_bytes, settings)
    score_id = uuid.uuid4().hex
    # The file name is known only now; the score itself is read after the PUT (`stored_upload`).
    _put_info(kit, user.uid, score_id, {"filename": body.filename})
    content_type = CONTENT_TYPES[ext]
    url = kit.blobs.signed_url(
        upload_key(user.uid, score_id, ext),
        method="PUT",
        expires_s=settings.signed_url_expiry_s,
        content_type=content_type,
        max_bytes=settings.max_upload_bytes,
    )
    headers = {
        "Content-Type": content_type,
        "x-goog-content-length-range": f"0,{settings.max_upload_bytes}",
        "x-goog-if-generation-match": "0",  # create-only: a score cannot be replaced after a job used it
    }
    return UploadUrl(
        score_id=score_id,
        url=url,
        headers=headers,
        max_bytes=settings.max_upload_bytes,
        expires_in_s=settings.signed_url_expiry_s,
    )


@router.post(
    "",
    response_model=Upload,
    status_code=201,
    responses={400: {"model": Problem}, 415: {"model": Problem}, **QUOTA_ERRORS},
)
async def upload(
    file: Annotated[UploadFile, File(description="a .musicxml, .xml or .mxl score")],
    user: TrustedUser,
    kit: KitDep,
    settings: SettingsDep,
) -> Upload:
    """Upload a small score directly; answers with its scoreId.

    The body was authenticated and bounded before it was read (api/edge.py); sniffing, the quota and
    the store run on a worker thread, never on the event loop.
    """
    extension_for(file.filename or "")
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"the file is larger than the {settings.max_upload_bytes} byte limit")
    return await run_in_threadpool(_store_upload, kit, user.uid, file.filename or "", data, settings)


def _store_upload(kit: KitDep, uid: str, filename: str, data: bytes, settings: SettingsDep) -> Upload:
    kind = sniff_score(data)  # UnreadableScore: 415 through the SingerError handler
    ext = ".mxl" if kind == "mxl" else ".musicxml"
    reserve_upload(kit.documents, uid, len(data), settings)
    score_id = uuid.uuid4().hex
    key = upload_key(uid, score_id, ext)
    kit.blobs.put(key, data, content_type=CONTENT_TYPES[ext], if_absent=True)
    return _describe(kit, uid, score_id, key, filename, data, settings).upload


@router.get("/{score_id}", response_model=Upload, responses={404: {"model": Problem}})
def get_upload(score_id: ScoreId, user: CurrentUser, kit: KitDep, settings: SettingsDep) -> Upload:
    """One of the caller's uploads, with its title, verses and parts (read on first request after a
    signed-URL PUT)."""
    return stored_upload(kit, user.uid, score_id, settings).upload


@dataclass(frozen=True)
class StoredUpload:
    """An upload of the caller's: its score's blob key, its description, and the quick read's result."""

    key: str
    upload: Upload
    info: ScoreInfo
    readable: bool


def find_score_key(kit: Kit, uid: str, score_id: str) -> str | None:
    """The blob key of the caller's score `score_id`, or None."""
    for ext in CONTENT_TYPES:
        key = upload_key(uid, score_id, ext)
        if kit.blobs.exists(key):
            return key
    return None


def stored_upload(kit: Kit, uid: str, score_id: str, settings: SingerSettings) -> StoredUpload:
    """The caller's upload `score_id` with its description, read once and kept; 404 when there is none."""
    key = find_score_key(kit, uid, score_id)
    if key is None:
        raise HTTPException(404, f"no upload {score_id} of yours: upload the score first")
    raw = _get_info(kit, uid, score_id)
    if "title" in raw:
        info = ScoreInfo.from_dict(raw)
        upload = _as_upload(score_id, str(raw["filename"]), int(raw["size"]), info)
        return StoredUpload(key, upload, info, bool(raw.get("readable", True)))
    filename = str(raw.get("filename") or key.rsplit("/", 1)[-1])
    return _describe(kit, uid, score_id, key, filename, kit.blobs.get(key), settings)


def _describe(
    kit: Kit, uid: str, score_id: str, key: str, filename: str, data: bytes, settings: SingerSettings
) -> StoredUpload:
    """Read the score quickly and store what was found. A score that cannot be read is still kept (a
    job on it fails with the reason, refunded); its title is then the file name."""
    readable = True
    try:
        info = read_score_info(data, filename, ScoreLimits.from_settings(settings))
    except SingerError:
        info, readable = ScoreInfo(file_stem(filename)), False
    _put_info(kit, uid, score_id, {**info.to_dict(), "filename": filename, "size": len(data), "readable": readable})
    return StoredUpload(key, _as_upload(score_id, filename, len(data), info), info, readable)


def _as_upload(score_id: str, filename: str, size: int, info: ScoreInfo) -> Upload:
    parts = [ScorePart(id=p.id, name=p.name, has_lyrics=p.has_lyrics) for p in info.parts]
    return Upload(
        score_id=score_id, filename=filename, size=size, title=info.title, verses=list(info.verses), parts=parts
    )


def _get_info(kit: Kit, uid: str, score_id: str) -> dict[str, Any]:
    return dict(kit.documents.get(upload_info_path(uid, score_id)) or {})


def _put_info(kit: Kit, uid: str, score_id: str, info: dict[str, Any]) -> None:
    kit.documents.set(upload_info_path(uid, score_id), info)
