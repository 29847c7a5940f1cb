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
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from api.deps import CurrentUser, KitDep
from api.routes.jobs import with_live_progress
from taskkit.backends.base import Query, Snapshot

router = APIRouter(prefix="/v1", tags=["events"])
KEEPALIVE_S = 15.0
PROGRESS_POLL_S = 1.0


def _stage(doc: dict[str, Any]) -> str | None:
    return (doc.get("progress") or {}).get("stage")


@router.get("/events", response_class=StreamingResponse)
async def job_events(request: Request, user: CurrentUser, kit: KitDep) -> StreamingResponse:
    """`event: job` with the job's JSON each time one of the caller's jobs changes, phrase progress included."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[list[Snapshot]] = asyncio.Queue()

    def on_change(snaps: list[Snapshot]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, snaps)

    watch = kit.documents.watch_query(Query("jobs", (("userId", "==", user.uid),)), on_change)

    async def stream() -> AsyncIterator[str]:
        seen: dict[str, Any] = {}  # job id -> the JSON last sent
        docs: dict[str, dict[str, Any]] = {}
        quiet_s = 0.0
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                changed: set[str] = set()
                try:
                    for snap in await asyncio.wait_for(queue.get(), PROGRESS_POLL_S):
                        docs[snap.id] = {"id": snap.id, **snap.data}
                        changed.add(snap.id)
                except TimeoutError:
                    quiet_s += PROGRESS_POLL_S
                # Phrase tasks do not write the job document: while phrases render, poll the chord.
                rendering = {i for i, d in docs.items() if d["status"] == "processing" and _stage(d) == "phrases"}
                for job_id in sorted(changed | rendering):
                    live = await run_in_threadpool(with_live_progress, kit, docs[job_id])
                    body = live.model_dump(by_alias=True)
                    if seen.get(job_id) != body:
                        seen[job_id] = body
                        quiet_s = 0.0
                        yield f"event: job\ndata: {json.dumps(body)}\n\n"
                if quiet_s >= KEEPALIVE_S:
                    quiet_s = 0.0
                    yield ": keepalive\n\n"
        finally:
            watch.close()

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
