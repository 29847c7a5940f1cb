"""Sound within seconds: each finished phrase as a WAV its owner may play while the rest renders.

A phrase task writes its phrase as a 16-bit mono WAV under `intermediate/{jobId}/phrases/{index}.wav`
and returns where it starts on the song's timeline (`start`, in samples: the same rounding as
`assembly.assemble`), how long it is, and where the next phrase starts (`next`): a player that has
every phrase up to `index` knows the song's final samples up to `next` (a later phrase only writes
from its own start on). The API lists the ready phrases from the chord's finished members
(`GET /v1/jobs/{id}/phrases`, the embedded event stream's `phrases` events) without any write per phrase.

For clients that listen to the job document (Firestore in production) the phrase tasks also write a
batched `readyPhrases` list there: the first ready phrase at once, then at most one write per
`ready_phrases_interval_s`; the assembly writes the full list. A phrase finished between two writes
shows up in the next one.

The stitched phrases equal the final WAV: `assemble` places the phrases in index order at
`start = round(offset_s * rate)`, and where a phrase overlaps what is already there it cross-fades
linearly over the overlap (`np.linspace(0, 1, overlap)`: old * (1 - fade) + new * fade), after which the
new phrase replaces. The SPA (web/src/lib/stitch.ts) applies the same rule to the 16-bit phrase WAVs, so
its samples differ from the WAV's by at most one 16-bit step inside a cross-fade and not at all elsewhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from singer_tasks.jobs.model import JobStatus, job_path
from singer_tasks.render.assembly import encode_wav
from singer_tasks.render.job import INTERMEDIATE_PREFIX
from singer_tasks.render.plan import Plan
from taskkit.backends.base import BlobStore, Transaction

READY_FIELD = "readyPhrases"
READY_AT_FIELD = "readyPhrasesAt"
DEVICE_FIELD = "device"


def phrase_wav_key(job_id: str, index: int) -> str:
    """Where a finished phrase's WAV is stored (under the intermediates, which a lifecycle rule expires)."""
    return f"{INTERMEDIATE_PREFIX}/{job_id}/phrases/{index:05d}.wav"


def display_key(job_id: str) -> str:
    """Where the job's display data (notes, phonemes, f0) waits for the piano roll while phrases render
    (`api/routes/phrases.py` names the same key)."""
    return f"{INTERMEDIATE_PREFIX}/{job_id}/display.json"


def store_display(blobs: BlobStore, job_id: str, plan: Plan) -> None:
    """Store the plan's display data (the same as the completed job's display.json)."""
    blobs.put(display_key(job_id), json.dumps(plan.display).encode(), content_type="application/json")


def phrase_start(offset_s: float, sample_rate: int) -> int:
    """The phrase's first sample on the song's timeline, exactly as `assembly.assemble` places it."""
    return max(0, round(offset_s * sample_rate))


def store_phrase(
    blobs: BlobStore, job_id: str, plan: Plan, index: int, samples: np.ndarray, sample_rate: int
) -> dict[str, Any]:
    """Write phrase `index` as a 16-bit WAV; returns what the API lists about it (JSON, camelCase-free)."""
    key = phrase_wav_key(job_id, index)
    blobs.put(key, encode_wav(np.asarray(samples, dtype=np.float32), sample_rate), content_type="audio/wav")
    following = plan.phrases[index + 1] if index + 1 < len(plan.phrases) else None
    return {
        "wav": key,
        "start": phrase_start(plan.phrases[index].offset_s, sample_rate),
        "samples": len(samples),
        "next": phrase_start(following.offset_s, sample_rate) if following is not None else None,
    }


def note_ready(
    transact: Callable[[Callable[[Transaction], None]], None],
    job_id: str,
    ready: Iterable[int],
    *,
    interval_s: float,
    final: bool = False,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Add `ready` to the job document's `readyPhrases` if the batch is due (the first phrase, `interval_s`
    since the last write, or `final`); only while the job is processing. Returns whether it wrote."""
    indexes = set(ready)
    wrote = False

    def write(tx: Transaction) -> None:
        nonlocal wrote
        wrote = False
        data = tx.get(job_path(job_id))
        if data is None or data.get("status") != JobStatus.PROCESSING.value:
            return
        known = {int(i) for i in data.get(READY_FIELD) or []}
        now = time.time()
        due = final or not known or now - float(data.get(READY_AT_FIELD) or 0.0) >= interval_s
        merged = known | indexes
        if not due or (merged == known and not extra):
            return
        tx.update(job_path(job_id), {READY_FIELD: sorted(merged), READY_AT_FIELD: now, **(extra or {})})
        wrote = True

    transact(write)
    return wrote
