"""Score uploads: a signed PUT URL for the browser, or a small multipart upload through the API."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, UploadFile
from fastapi.concurrency import run_in_threadpool

from api.abuse import reserve_upload
from api.deps import KitDep, SettingsDep, TrustedUser
from api.schemas import Problem, Upload, UploadUrl, UploadUrlRequest
from singer_tasks.jobs.model import upload_key
from singer_tasks.score.sniff import sniff_score

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
    kit.blobs.put(upload_key(uid, score_id, ext), data, content_type=CONTENT_TYPES[ext], if_absent=True)
    return Upload(score_id=score_id, filename=filename, size=len(data))
