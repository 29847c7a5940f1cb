"""HTTP routes that serve the local blob store's signed URLs (as Cloud Storage serves v4 URLs).

A signed PUT is create-only: it writes an object that does not exist yet and never replaces one
(409 otherwise), as a Cloud Storage URL signed with `x-goog-if-generation-match: 0` does. A score a
job was created from therefore cannot be swapped behind its back by replaying the upload URL.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from taskkit.backends.base import check_blob_key
from taskkit.backends.local.blobs import LocalBlobStore, SignedGrant
from taskkit.errors import AlreadyExists, BackendError, NotFound


def create_blob_router(store: LocalBlobStore) -> APIRouter:
    """A router answering GET and PUT on `/_blobs/{key}` for requests that carry a valid signature."""
    router = APIRouter(tags=["blobs"], include_in_schema=False)

    def grant_for(key: str, request: Request) -> SignedGrant:
        try:
            check_blob_key(key)
        except BackendError as e:
            raise HTTPException(400, "invalid object name") from e
        grant = store.verify(key, dict(request.query_params), request.method)
        if grant is None:
            raise HTTPException(403, "signature invalid or expired")
        return grant

    @router.get("/_blobs/{key:path}")
    def get_blob(key: str, request: Request) -> Response:
        grant_for(key, request)
        try:
            data = store.get(key)
        except NotFound as e:
            raise HTTPException(404, "no such object") from e
        return Response(content=data, media_type=store.content_type(key))

    @router.put("/_blobs/{key:path}")
    async def put_blob(key: str, request: Request) -> Response:
        grant = grant_for(key, request)
        content_type = request.headers.get("content-type", "")
        _check_put_headers(grant, content_type, request.headers.get("content-length"))
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if grant.max_bytes is not None and len(body) > grant.max_bytes:
                raise HTTPException(413, f"body larger than the {grant.max_bytes} bytes this URL allows")
        try:
            await run_in_threadpool(
                store.put, key, bytes(body), content_type=content_type or "application/octet-stream", if_absent=True
            )
        except AlreadyExists as e:
            raise HTTPException(409, "this object already exists; signed uploads cannot replace it") from e
        return Response(status_code=200)

    return router


def _check_put_headers(grant: SignedGrant, content_type: str, declared: str | None) -> None:
    """Refuse a PUT whose Content-Type or declared length the grant does not allow (before reading it)."""
    if grant.content_type and content_type.split(";")[0].strip() != grant.content_type:
        raise HTTPException(403, f"this URL only accepts Content-Type {grant.content_type}")
    if declared is not None and not declared.isdigit():
        raise HTTPException(400, "Content-Length is not a number")
    if grant.max_bytes is not None and declared is not None and int(declared) > grant.max_bytes:
        raise HTTPException(413, f"body larger than the {grant.max_bytes} bytes this URL allows")
