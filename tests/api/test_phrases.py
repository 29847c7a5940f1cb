"""Sound within seconds: finished phrases listed while the job renders, announced on the event stream and
batched on the job document; stitched by the documented rule they give the final WAV."""

from __future__ import annotations

import io
import json
import uuid
import wave
from collections.abc import Callable, Iterator

import httpx
import numpy as np
import pytest

from singer_tasks.render.assembly import place
from singer_tasks.settings import get_settings
from taskkit import Kit
from tests.api.conftest import Client, song_bytes
from tests.api.driver import InlineDriver
from tests.api.test_gcp_render import gcp_kit  # noqa: F401 - the gcp family on Google's emulators
from tests.emulators import firestore_host, gcs_host, pubsub_host  # noqa: F401

Clients = Callable[[str], Client]


@pytest.fixture(autouse=True)
def slow_batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The job document's readyPhrases is written for the first phrase, then not again within an hour."""
    monkeypatch.setenv("SINGER_READY_PHRASES_INTERVAL_S", "3600")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def read_wav(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), w.getframerate()


def stitch(phrases: list[dict[str, object]], length: int) -> np.ndarray:
    """The rule the SPA follows (web/src/lib/stitch.ts): phrase WAVs in index order at their offsets,
    overlaps cross-faded as `assembly.place` does, quantised to 16 bits as `encode_wav` does."""
    song, end = np.zeros(0, np.float32), 0
    for entry in sorted(phrases, key=lambda p: int(str(p["index"]))):
        pcm, rate = read_wav(httpx.get(str(entry["url"])).content)
        assert rate == entry["sampleRate"] and len(pcm) == round(float(str(entry["durationSeconds"])) * rate)
        start = round(float(str(entry["offsetSeconds"])) * rate)
        song, end = place(song, end, pcm.astype(np.float32) / 32767.0, start)
    song = np.pad(song[:end], (0, max(0, length - end)))[:length]
    return (np.clip(song, -1.0, 1.0) * 32767.0).round().astype("<i2")


def events(url: str, wanted: str, timeout_s: float = 30.0) -> dict[str, object]:
    """The data of the first `event: {wanted}` on the stream."""
    with httpx.stream("GET", url, timeout=timeout_s) as response:
        assert response.status_code == 200
        kind = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: ") and kind == wanted:
                return dict(json.loads(line.removeprefix("data: ")))
    raise AssertionError(f"no {wanted} event")


def test_finished_phrases_play_before_the_job_completes_and_stitch_to_the_final_wav(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    job_id = alice.job(alice.upload(song_bytes(5, phrase_per_bar=True))).json()["id"]
    assert alice.get(f"/v1/jobs/{job_id}/phrases").json()["total"] == 0  # not split yet
    driver = InlineDriver(kit)
    driver.drain(limit=3)  # the render, then phrases 0 and 1 (the chord publishes them in index order)
    assert driver.delivered[1:] == [f"{job_id}:0", f"{job_id}:1"]
    listed = alice.get(f"/v1/jobs/{job_id}/phrases").json()
    assert alice.get(f"/v1/jobs/{job_id}").json()["status"] == "processing"
    assert listed["total"] == 5 and [p["index"] for p in listed["ready"]] == [0, 1]
    first, second = listed["ready"]
    assert first["nextOffsetSeconds"] == second["offsetSeconds"] > first["offsetSeconds"]
    display = httpx.get(listed["displayUrl"]).json()  # the piano roll, before the job completes
    assert len(display["notes"]) == 5 * 3
    pcm, rate = read_wav(httpx.get(first["url"]).content)
    assert rate == first["sampleRate"] and np.abs(pcm).max() > 1000  # sung, not silence
    # The document gets the first ready phrase at once, and no write per phrase after it (batched).
    doc = kit.documents.get(f"jobs/{job_id}") or {}
    assert doc["readyPhrases"] == [0]
    # The event stream announces what is ready.
    ticket = alice.post("/v1/events/ticket").json()["ticket"]
    announced = events(f"{alice.base}/v1/events?ticket={ticket}", "phrases")
    assert announced == {"jobId": job_id, "ready": [0, 1]}
    # Someone else's job is not listed.
    assert client("bob").get(f"/v1/jobs/{job_id}/phrases").status_code == 404

    driver.drain()
    done = kit.documents.get(f"jobs/{job_id}") or {}
    assert done["status"] == "completed"
    assert done["readyPhrases"] == [0, 1, 2, 3, 4] and done["device"] == "cpu"  # the assembly's last batch
    final, rate = read_wav(kit.blobs.get(done["outputPath"]))
    every = alice.get(f"/v1/jobs/{job_id}/phrases").json()["ready"]
    assert [p["index"] for p in every] == [0, 1, 2, 3, 4] and every[-1]["nextOffsetSeconds"] is None
    stitched = stitch(every, len(final))
    assert np.abs(stitched.astype(int) - final.astype(int)).max() <= 1
    # Outside the cross-fades (a phrase's tail pad overlapping the next one's head pad) every sample is the WAV's.
    ends = [round((p["offsetSeconds"] + p["durationSeconds"]) * rate) for p in every]
    starts = [round(p["offsetSeconds"] * rate) for p in every]
    fades = np.zeros(len(final), bool)
    for end, start in zip(ends[:-1], starts[1:], strict=True):
        fades[start:end] = True
    assert np.array_equal(stitched[~fades], final[~fades]) and fades.sum() < len(final) / 100


def test_overlapping_phrases_cross_fade_within_one_step_of_the_final_samples() -> None:
    rng = np.random.default_rng(0)
    pieces = [rng.uniform(-0.9, 0.9, n).astype(np.float32) for n in (900, 700, 500)]
    starts = [100, 800, 1300]  # phrase 1 overlaps phrase 0's last 200 samples, phrase 2 overlaps phrase 1's
    song, end = np.zeros(0, np.float32), 0
    for piece, start in zip(pieces, starts, strict=True):
        song, end = place(song, end, piece, start)
    final = (np.clip(song[:end], -1, 1) * 32767.0).round().astype("<i2")
    # The SPA mixes the 16-bit phrase WAVs by the same rule.
    quantised = [(np.clip(p, -1, 1) * 32767.0).round().astype("<i2") for p in pieces]
    mixed, mixed_end = np.zeros(0, np.float32), 0
    for pcm, start in zip(quantised, starts, strict=True):
        mixed, mixed_end = place(mixed, mixed_end, pcm.astype(np.float32) / 32767.0, start)
    stitched = (np.clip(mixed[:mixed_end], -1, 1) * 32767.0).round().astype("<i2")
    difference = np.abs(stitched.astype(int) - final.astype(int))
    assert difference.max() <= 1
    assert np.array_equal(stitched[:800], final[:800])  # outside a cross-fade: exactly the WAV's samples


@pytest.mark.emulator
@pytest.mark.slow
def test_on_the_gcp_family_the_job_document_gets_the_ready_phrases(gcp_kit: Kit) -> None:  # noqa: F811 - the fixture
    from api.routes.phrases import finished_phrases
    from singer_tasks.jobs import transitions as jobs
    from singer_tasks.kit import RENDER_TASK, RENDER_TOPIC, render_task_id
    from singer_tasks.settings import SingerSettings
    from tests.taskkit.conftest import wait_for

    settings = SingerSettings()
    score_key = f"uploads/hana/{uuid.uuid4().hex}.musicxml"
    gcp_kit.blobs.put(score_key, song_bytes(3, phrase_per_bar=True), if_absent=True)
    job = jobs.create_job(gcp_kit.documents, jobs.JobRequest("hana", score_key, "final", "builtin", None), settings)
    gcp_kit.send_task(RENDER_TASK, {"job_id": job.id}, task_id=render_task_id(job.id), topic=RENDER_TOPIC)
    done = wait_for(
        lambda: (d := gcp_kit.documents.get(f"jobs/{job.id}")) and d["status"] in ("completed", "failed") and d,
        timeout_s=120,
        what="the job to end",
    )
    assert done["status"] == "completed", done.get("error")
    assert done["readyPhrases"] == [0, 1, 2] and done["device"] == "cpu"  # Firestore transactions
    total, ready = finished_phrases(gcp_kit, job.id)
    assert total == 3 and sorted(ready) == [0, 1, 2]
    for result in ready.values():
        pcm, _ = read_wav(gcp_kit.blobs.get(str(result["wav"])))  # in the bucket
        assert len(pcm) == result["samples"]
