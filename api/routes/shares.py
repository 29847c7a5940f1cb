"""Share links: the owner makes or revokes a read-only link to a completed song; anyone holding the
token gets the song's name and short-lived signed URLs to listen, with no sign-in.

The token leads to that one song only: `GET /v1/shared/{token}` is the single route that reads it,
it is never a bearer token (the token check refuses it), and an unknown, revoked or expired token (or a
deleted song) all get the same 404. The public route is rate limited per client address, in memory
(per API instance): enough to stop one client from making the API sign URLs in a loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from fastapi.responses import FileResponse

from api.deps import CurrentUser, KitDep, SettingsDep
from api.params import JobId
from api.routes.jobs import listen_key, listen_type
from api.schemas import Problem, Share, ShareCreate, SharedSong
from singer_tasks.jobs import shares

router = APIRouter(prefix="/v1", tags=["shares"])
Clock = Callable[[], float]
NOT_SHARED = "no shared song here: the link is unknown, was revoked, or has expired"
PUBLIC_REQUESTS_PER_MINUTE = 60
_LIMITER_LOCK = threading.Lock()


def get_clock() -> Clock:
    """The clock share expiry is judged by (tests override this dependency)."""
    return time.time


ClockDep = Annotated[Clock, Depends(get_clock)]


class RateLimiter:
    """At most `limit` requests per client per fixed window of `window_s` seconds, in memory."""

    def __init__(self, limit: int, window_s: float = 60.0, max_clients: int = 10_000) -> None:
        self.limit, self.window_s, self.max_clients = limit, window_s, max_clients
        self._counts: dict[str, tuple[int, int]] = {}  # client -> (window number, requests in it)
        self._lock = threading.Lock()

    def check(self, client: str, now: float) -> float | None:
        """Count one request of `client`; None if allowed, else the seconds until its next window."""
        window = int(now // self.window_s)
        with self._lock:
            if len(self._counts) >= self.max_clients:  # bounded memory: forget finished windows
                self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
            seen, count = self._counts.get(client, (window, 0))
            count = count + 1 if seen == window else 1
            self._counts[client] = (window, count)
        return None if count <= self.limit else (window + 1) * self.window_s - now


def get_limiter(request: Request) -> RateLimiter:
    """The app's limiter of the public share route (one per app; tests override this dependency)."""
    state = request.app.state
    with _LIMITER_LOCK:
        if not hasattr(state, "share_limiter"):
            state.share_limiter = RateLimiter(PUBLIC_REQUESTS_PER_MINUTE)
    limiter: RateLimiter = state.share_limiter
    return limiter


def client_address(request: Request) -> str:
    """The caller's address: the last X-Forwarded-For hop (what the nearest proxy, Cloud Run's front
    end, saw), else the peer's."""
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [h.strip() for h in forwarded.split(",") if h.strip()]
    if hops:
        return hops[-1]
    return request.client.host if request.client else "unknown"


@router.post(
    "/jobs/{job_id}/share",
    response_model=Share,
    responses={404: {"model": Problem}, 409: {"model": Problem, "description": "the song is not completed"}},
)
def share_job(
    job_id: JobId,
    user: CurrentUser,
    kit: KitDep,
    clock: ClockDep,
    body: Annotated[ShareCreate | None, Body()] = None,
) -> Share:
    """A link anyone may open to listen to this completed song; the active one if it has one."""
    days = (body or ShareCreate()).expires_in_days
    return Share.from_stored(shares.create_share(kit.documents, job_id, user.uid, days=days, now=clock()))


@router.delete("/jobs/{job_id}/share", status_code=204, responses={404: {"model": Problem}})
def unshare_job(job_id: JobId, user: CurrentUser, kit: KitDep, clock: ClockDep) -> Response:
    """Revoke the song's share link (nothing to do if it has none)."""
    shares.revoke_share(kit.documents, job_id, user.uid, now=clock())
    return Response(status_code=204)


@router.get(
    "/shared/{token}",
    response_model=SharedSong,
    responses={404: {"model": Problem}, 429: {"model": Problem, "description": "too many requests"}},
)
def shared_song(
    token: str,
    request: Request,
    response: Response,
    kit: KitDep,
    settings: SettingsDep,
    clock: ClockDep,
    limiter: Annotated[RateLimiter, Depends(get_limiter)],
) -> SharedSong:
    """A shared song, for anyone holding its token (no sign-in): its name, voice and length, and signed
    URLs to listen that live no longer than the link."""
    now = clock()
    wait_s = limiter.check(client_address(request), now)
    if wait_s is not None:
        retry = str(max(1, int(wait_s)))
        raise HTTPException(429, f"too many requests; try again in {retry} s", headers={"Retry-After": retry})
    found = shares.resolve_share(kit.documents, token, now=now)
    wav = found.job.output_path if found is not None else None
    if found is None or not wav:
        raise HTTPException(404, NOT_SHARED)
    job = found.job
    expires_s = max(1, min(settings.signed_url_expiry_s, int(found.record.expires_at - now)))

    def sign(key: str | None) -> str | None:
        return kit.blobs.signed_url(key, method="GET", expires_s=expires_s) if key else None

    listen = listen_key(kit, job)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return SharedSong(
        title=job.title,
        voice=job.voice,
        duration_seconds=job.duration_seconds,
        listen_url=sign(listen),
        listen_type=listen_type(listen),
        url=kit.blobs.signed_url(wav, method="GET", expires_s=expires_s),
        display=sign(job.outputs.display if job.outputs else None),
        expires_at=found.record.expires_at,
    )


def spa_router(index_html: Path) -> APIRouter:
    """GET /s/{token}: the built SPA's index.html, so a shared link opened directly loads the SPA (the
    static mount answers only paths of real files)."""
    spa = APIRouter(include_in_schema=False)

    @spa.get("/s/{token}")
    def shared_page(token: str) -> FileResponse:
        return FileResponse(index_html, media_type="text/html", headers={"Cache-Control": "no-cache"})

    return spa
