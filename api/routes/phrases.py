"""A job's finished phrases, to play while the rest renders: `GET /v1/jobs/{id}/phrases`.

Each phrase task stores its phrase as a WAV and returns where it sits on the song's timeline
(`singer_tasks/render/streaming.py`); the chord's finished members' lease records hold those results,
so one query lists every ready phrase, with no write per phrase. The embedded event stream announces
the same list (`event: phrases`, `phrase_indexes`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser, KitDep, SettingsDep
from api.params import JobId
from api.schemas import PhraseList, Problem, ReadyPhrase
from singer_tasks.jobs import transitions as jobs
from singer_tasks.jobs.model import INTERMEDIATE_PREFIX
from taskkit import Kit
from taskkit.canvas import chord_path
from taskkit.lease import LEASES

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


def finished_phrases(kit: Kit, job_id: str) -> tuple[int, dict[int, dict[str, Any]]]:
    """(the job's number of phrases, 0 before its score is split; index -> the phrase task's result) for
    the phrases whose WAV is stored."""
    chord = kit.documents.get(chord_path(job_id))
    if chord is None:
        return 0, {}
    done = kit.documents.query(LEASES, [("chord", "==", job_id), ("status", "==", "done")])
    members = set(chord.get("members") or [])
    ready: dict[int, dict[str, Any]] = {}
    for snap in done:
        result = snap.data.get("result")
        tail = snap.id.rpartition(":")[2]
        if snap.id in members and tail.isdigit() and isinstance(result, dict) and result.get("wav"):
            ready[int(tail)] = result
    return int(chord.get("size") or 0), ready


def display_key(job_id: str) -> str:
    """Where the render task leaves the song's display data for the piano roll (render/streaming.py)."""
    return f"{INTERMEDIATE_PREFIX}/{job_id}/display.json"


def phrase_indexes(kit: Kit, job_id: str) -> list[int]:
    """The indexes of the job's ready phrases, ascending."""
    return sorted(finished_phrases(kit, job_id)[1])


@router.get("/{job_id}/phrases", response_model=PhraseList, responses={404: {"model": Problem}})
def job_phrases(job_id: JobId, user: CurrentUser, kit: KitDep, settings: SettingsDep) -> PhraseList:
    """Short-lived signed URLs to each finished phrase of one of the caller's jobs, with where it starts.

    Play them at their offsets while the job renders: mixed as docs/architecture.md says ("Sound within
    seconds"), they give the final WAV's samples."""
    jobs.get_job(kit.documents, job_id, user.uid)  # 404 unless it is the caller's
    total, ready = finished_phrases(kit, job_id)
    expiry = settings.signed_url_expiry_s
    listed = []
    for index, result in sorted(ready.items()):
        rate = int(result["sampleRate"])
        following = result.get("next")
        listed.append(
            ReadyPhrase(
                index=index,
                offset_seconds=int(result["start"]) / rate,
                duration_seconds=int(result["samples"]) / rate,
                sample_rate=rate,
                url=kit.blobs.signed_url(str(result["wav"]), method="GET", expires_s=expiry),
                next_offset_seconds=None if following is None else int(following) / rate,
            )
        )
    display = display_key(job_id)
    display_url = kit.blobs.signed_url(display, method="GET", expires_s=expiry) if kit.blobs.exists(display) else None
    return PhraseList(total=total, ready=listed, display_url=display_url, expires_in_s=expiry)
