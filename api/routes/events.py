"""Server-sent events of the caller's job changes, fed by the document store's change feed.

The SPA uses it on the embedded stack (in production it listens to Firestore directly). EventSource
cannot set headers, so the token may come as `?access_token=`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, KitDep
from api.schemas import Job
from taskkit.backends.base import Query, Snapshot

router = APIRouter(prefix="/v1", tags=["events"])
KEEPALIVE_S = 15.0


@router.get("/events", response_class=StreamingResponse)
async def job_events(request: Request, user: CurrentUser, kit: KitDep) -> StreamingResponse:
    """`event: job` with the job's JSON each time one of the caller's jobs changes."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[Snapshot]] = asyncio.Queue()

    def changed(snaps: list[Snapshot]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, snaps)

    watch = kit.documents.watch_query(Query("jobs", (("userId", "==", user.uid),)), changed)

    async def stream() -> AsyncIterator[str]:
        seen: dict[str, Any] = {}
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                try:
                    snaps = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keepalive\n\n"
                    continue
                for snap in snaps:
                    if seen.get(snap.id) != snap.data:
                        seen[snap.id] = snap.data
                        job = Job.from_doc({"id": snap.id, **snap.data}).model_dump(by_alias=True)
                        yield f"event: job\ndata: {json.dumps(job)}\n\n"
        finally:
            watch.close()

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
