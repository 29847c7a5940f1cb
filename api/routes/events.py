"""Server-sent events of the caller's job changes, fed by the document store's change feed.

The SPA uses it on the embedded stack (in production it listens to Firestore directly). EventSource
cannot set headers, so the stream is opened with a ticket in the URL: `POST /v1/events/ticket` (with
the bearer token) returns one, valid about a minute, good only for opening the event stream of that
user. A bearer token is never accepted in a URL, and access logs drop query strings.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Query as QueryParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from api.deps import CurrentUser, KitDep, TicketsDep, bearer_token
from api.routes.jobs import rendering_phrases, with_live_progress
from api.routes.phrases import phrase_indexes
from api.tokens import Caller, Unauthenticated, Verifier
from singer_tasks.jobs.model import JOBS, Job
from taskkit.backends.base import Query, Snapshot

router = APIRouter(prefix="/v1", tags=["events"])
KEEPALIVE_S = 15.0
PROGRESS_POLL_S = 1.0


class EventTicket(BaseModel):
    """A ticket to open the caller's event stream: GET `url` (EventSource) before `expiresAt`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    ticket: str
    url: str
    expires_at: int
    expires_in_s: int


@router.post("/events/ticket", response_model=EventTicket)
def event_ticket(user: CurrentUser, tickets: TicketsDep) -> EventTicket:
    """A short-lived ticket for `GET /v1/events?ticket=...` (EventSource cannot send a header)."""
    ticket, expires_at = tickets.issue(user.uid)
    return EventTicket(
        ticket=ticket, url=f"/v1/events?ticket={ticket}", expires_at=expires_at, expires_in_s=int(tickets.ttl_s)
    )


def _stream_user(request: Request, tickets: TicketsDep, ticket: str | None) -> Caller:
    """The owner of the stream: the ticket's user, or the bearer token's (clients that can send headers)."""
    try:
        if ticket is not None:
            return tickets.verify(ticket)
        verify: Verifier = request.app.state.verify_token
        return verify(bearer_token(request.headers.get("authorization")))
    except Unauthenticated as e:
        raise HTTPException(401, str(e), headers={"WWW-Authenticate": "Bearer"}) from e


@router.get("/events", response_class=StreamingResponse, responses={401: {"description": "no valid ticket"}})
async def job_events(
    request: Request,
    kit: KitDep,
    tickets: TicketsDep,
    ticket: Annotated[str | None, QueryParam(max_length=400, description="from POST /v1/events/ticket")] = None,
) -> StreamingResponse:
    """`event: job` with the job's JSON each time one of the caller's jobs changes, phrase progress included;
    `event: phrases` `{jobId, ready: [indexes]}` as phrases finish (GET /v1/jobs/{id}/phrases lists them)."""
    user = await run_in_threadpool(_stream_user, request, tickets, ticket)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[Snapshot]] = asyncio.Queue()

    def on_change(snaps: list[Snapshot]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, snaps)

    # Only the caller's jobs: the store runs the userId filter (never a read of the whole collection).
    watch = await run_in_threadpool(kit.documents.watch_query, Query(JOBS, (("userId", "==", user.uid),)), on_change)

    async def stream() -> AsyncIterator[str]:
        seen: dict[str, Any] = {}  # job id -> the JSON last sent
        announced: dict[str, list[int]] = {}  # job id -> the ready phrases last sent
        docs: dict[str, Job] = {}
        quiet_s = 0.0
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                changed: set[str] = set()
                try:
                    for snap in await asyncio.wait_for(queue.get(), PROGRESS_POLL_S):
                        docs[snap.id] = Job.from_document(snap.id, snap.data)
                        changed.add(snap.id)
                except TimeoutError:
                    quiet_s += PROGRESS_POLL_S
                # Phrase tasks write the job document only in batches (readyPhrases): while phrases render,
                # poll the chord.
                rendering = {i for i, d in docs.items() if rendering_phrases(d)}
                for job_id in sorted(changed | rendering):
                    live = await run_in_threadpool(with_live_progress, kit, docs[job_id])
                    body = live.model_dump(by_alias=True)
                    if seen.get(job_id) != body:
                        seen[job_id] = body
                        quiet_s = 0.0
                        yield f"event: job\ndata: {json.dumps(body)}\n\n"
                    # Finished phrases to play now (and the last of them once the job is done).
                    if job_id in rendering or job_id in announced:
                        ready = await run_in_threadpool(phrase_indexes, kit, job_id)
                        if ready and announced.get(job_id) != ready:
                            announced[job_id] = ready
                            quiet_s = 0.0
                            yield f"event: phrases\ndata: {json.dumps({'jobId': job_id, 'ready': ready})}\n\n"
                if quiet_s >= KEEPALIVE_S:
                    quiet_s = 0.0
                    yield ": keepalive\n\n"
        finally:
            await run_in_threadpool(watch.close)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
