"""A user's own songs over real HTTP on the local family: the score's title, verses and parts read at
upload, a job's musical options and name, rename, delete, cancel while rendering, live phrase progress,
and error messages that name the user's file. The store parts (the cancel/complete race, delete) also
run on the gcp family against Google's Firestore emulator and fake-gcs-server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from api.routes.jobs import eta_seconds
from singer_tasks.errors import JobStateError
from singer_tasks.jobs import transitions as jobs
from singer_tasks.jobs.account import delete_job_files
from singer_tasks.jobs.model import JobStatus
from singer_tasks.settings import SingerSettings
from taskkit import Kit, Settings
from taskkit.backends.base import BlobStore, DocumentStore
from taskkit.backends.local.blobs import LocalBlobStore
from taskkit.backends.local.documents import LocalDocumentStore
from tests.api.conftest import Client, song_bytes
from tests.api.driver import InlineDriver
from tests.emulators import firestore_host, gcs_host
from tests.singer_tasks.fixtures.scores.xmlbuild import Lyric, measure, note, part, rest, score, tempo, to_mxl

__all__ = ["firestore_host", "gcs_host"]
Clients = Callable[[str], Client]


def choir(title: str | None = "Evening Hymn") -> bytes:
    """Soprano with verses 1 and 2 (la li lo / mi ma mo), Alto with verse 1 only (do re mi), a Piano."""
    sop = [[Lyric(a, number=1), Lyric(b, number=2)] for a, b in (("la", "mi"), ("li", "ma"), ("lo", "mo"))]
    soprano = measure(1, tempo(120), *[note("E4", 4, ly) for ly in sop], rest(4))
    alto = measure(1, *[note("C4", 4, w) for w in ("do", "re", "mi")], rest(4))
    piano = measure(1, note("C3", 16))
    data = score(("Soprano", part([soprano])), ("Alto", part([alto])), ("Piano", part([piano])))
    head = '<score-partwise version="4.0">'
    if title:
        data = data.replace(head.encode(), f"{head}<work><work-title>{title}</work-title></work>".encode())
    return data


def upload(client: Client, data: bytes, filename: str) -> dict[str, Any]:
    response = client.post("/v1/uploads", files={"file": (filename, data, "application/octet-stream")})
    assert response.status_code == 201, response.text
    return dict(response.json())


def corrupt() -> bytes:
    return b'<?xml version="1.0"?><score-partwise version="4.0"><part-list><score-part id="P1">'


# --- uploads ---------------------------------------------------------------------------------------


def test_an_upload_tells_its_title_verses_and_parts(client: Clients) -> None:
    alice = client("alice")
    found = upload(alice, choir(), "hymn.musicxml")
    assert (found["title"], found["filename"], found["verses"]) == ("Evening Hymn", "hymn.musicxml", ["1", "2"])
    assert found["parts"] == [
        {"id": "P1", "name": "Soprano", "hasLyrics": True},
        {"id": "P2", "name": "Alto", "hasLyrics": True},
        {"id": "P3", "name": "Piano", "hasLyrics": False},
    ]
    assert alice.get(f"/v1/uploads/{found['scoreId']}").json() == found
    untitled = upload(alice, choir(title=None), "My Hymn.final.xml")
    assert untitled["title"] == "My Hymn.final" and untitled["filename"] == "My Hymn.final.xml"
    # A file the quick read cannot make sense of is still kept (the job says why it cannot sing it).
    broken = upload(alice, corrupt(), "Broken Song.musicxml")
    assert (broken["title"], broken["verses"], broken["parts"]) == ("Broken Song", [], [])


def test_an_upload_is_its_owners_only(client: Clients) -> None:
    alice, mallory = client("alice"), client("mallory")
    score_id = upload(alice, choir(), "hymn.musicxml")["scoreId"]
    assert mallory.get(f"/v1/uploads/{score_id}").status_code == 404
    assert alice.get(f"/v1/uploads/{uuid.uuid4().hex}").status_code == 404
    assert alice.get("/v1/uploads/not-an-id").status_code == 422


def test_a_signed_url_upload_is_read_after_the_put(client: Clients) -> None:
    alice = client("alice")
    grant = alice.post("/v1/uploads/url", json={"filename": "Evening Hymn (v2).mxl"}).json()
    assert alice.get(f"/v1/uploads/{grant['scoreId']}").status_code == 404  # nothing PUT yet
    data = to_mxl(choir())
    assert httpx.put(grant["url"], content=data, headers=grant["headers"]).status_code == 200
    found = alice.get(f"/v1/uploads/{grant['scoreId']}").json()
    assert (found["title"], found["filename"], found["size"]) == ("Evening Hymn", "Evening Hymn (v2).mxl", len(data))
    assert found["verses"] == ["1", "2"] and [p["id"] for p in found["parts"]] == ["P1", "P2", "P3"]
    job = alice.job(grant["scoreId"], verse="2").json()
    assert (job["title"], job["filename"], job["verse"]) == ("Evening Hymn", "Evening Hymn (v2).mxl", "2")


# --- jobs: options, validation, rename -------------------------------------------------------------


def test_a_job_keeps_its_name_file_and_options(client: Clients) -> None:
    alice = client("alice")
    score_id = upload(alice, choir(), "hymn.musicxml")["scoreId"]
    plain = alice.job(score_id).json()
    assert (plain["title"], plain["scoreId"], plain["filename"]) == ("Evening Hymn", score_id, "hymn.musicxml")
    assert (plain["keyShift"], plain["tempoFactor"], plain["verse"], plain["part"]) == (0, 1.0, None, None)
    chosen = alice.job(score_id, title="For Gran", keyShift=-5, tempoFactor=0.5, verse="2", part="P1").json()
    assert (chosen["title"], chosen["keyShift"], chosen["tempoFactor"]) == ("For Gran", -5, 0.5)
    assert (chosen["verse"], chosen["part"]) == ("2", "P1")
    assert alice.get(f"/v1/jobs/{chosen['id']}").json()["title"] == "For Gran"


def test_job_options_are_checked_against_the_score(client: Clients) -> None:
    alice = client("alice")
    score_id = upload(alice, choir(), "hymn.musicxml")["scoreId"]
    verse = alice.job(score_id, verse="3")
    assert (
        verse.status_code == 400 and "hymn.musicxml has no verse '3'; its verses are '1', '2'" in verse.json()["detail"]
    )
    part = alice.job(score_id, part="P9")
    assert part.status_code == 400 and "'P1' (Soprano)" in part.json()["detail"]
    assert score_id not in verse.json()["detail"] + part.json()["detail"]
    for bad in ({"keyShift": 25}, {"keyShift": -25}, {"tempoFactor": 0.2}, {"tempoFactor": 4.5}, {"title": ""}):
        assert alice.job(score_id, **bad).status_code == 422, bad
    assert alice.job(score_id, keyShift=24, tempoFactor=4.0).status_code == 202
    broken = upload(alice, corrupt(), "Broken Song.musicxml")["scoreId"]
    refused = alice.job(broken, verse="1")
    assert refused.status_code == 400 and "Broken Song.musicxml could not be read" in refused.json()["detail"]
    assert alice.me()["inFlight"] == 1  # only the accepted job reserved anything


def test_rename_a_song(client: Clients) -> None:
    alice, mallory = client("alice"), client("mallory")
    job_id = alice.job(upload(alice, choir(), "hymn.musicxml")["scoreId"]).json()["id"]
    renamed = httpx.patch(f"{alice.base}/v1/jobs/{job_id}", json={"title": "Sunday"}, headers=alice.headers)
    assert renamed.status_code == 200 and renamed.json()["title"] == "Sunday"
    assert alice.get(f"/v1/jobs/{job_id}").json()["title"] == "Sunday"
    assert httpx.patch(f"{alice.base}/v1/jobs/{job_id}", json={"title": ""}, headers=alice.headers).status_code == 422
    theirs = httpx.patch(f"{mallory.base}/v1/jobs/{job_id}", json={"title": "Mine"}, headers=mallory.headers)
    assert theirs.status_code == 404 and alice.get(f"/v1/jobs/{job_id}").json()["title"] == "Sunday"


def test_a_job_document_from_before_songs_still_loads(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    score_id = upload(alice, song_bytes(), "old.musicxml")["scoreId"]
    job_id = uuid.uuid4().hex
    kit.documents.set(f"jobs/{job_id}", {
        "userId": "alice", "status": "completed", "renderType": "final", "voice": "builtin",
        "inputPath": f"uploads/alice/{score_id}.musicxml", "progress": {"stage": "done", "fraction": 1.0},
        "credits": {"reserved": 6, "charged": 1, "refunded": 5}, "createdAt": 1.0, "updatedAt": 1.0,
    })  # fmt: skip
    old = alice.get(f"/v1/jobs/{job_id}").json()
    assert (old["scoreId"], old["filename"], old["title"]) == (score_id, f"{score_id}.musicxml", score_id)
    assert (old["keyShift"], old["tempoFactor"], old["verse"], old["part"]) == (0, 1.0, None, None)
    assert old["progress"] == {"stage": "done", "fraction": 1.0}


# --- the render applies the options ------------------------------------------------------------------


def sung_lyrics(kit: Kit, client: Client, job_id: str) -> list[str]:
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "completed", job["error"]
    display = httpx.get(client.get(f"/v1/jobs/{job_id}/output").json()["displayUrl"]).json()
    return [n["lyric"] for n in display["notes"]]


def test_the_render_sings_the_verse_and_part_asked_for(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    score_id = upload(alice, choir(), "hymn.musicxml")["scoreId"]
    first = alice.job(score_id).json()["id"]
    second = alice.job(score_id, verse="2").json()["id"]
    alto = alice.job(score_id, part="P2").json()["id"]
    InlineDriver(kit).drain()
    assert sung_lyrics(kit, alice, first) == ["la", "li", "lo"]
    assert sung_lyrics(kit, alice, second) == ["mi", "ma", "mo"]
    assert sung_lyrics(kit, alice, alto) == ["do", "re", "mi"]


def test_tempo_and_key_reach_the_rendered_notes(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    score_id = upload(alice, song_bytes(2), "song.musicxml")["scoreId"]
    plain = alice.job(score_id).json()["id"]
    fast = alice.job(score_id, tempoFactor=2.0, keyShift=3).json()["id"]
    InlineDriver(kit).drain()
    urls = {j: alice.get(f"/v1/jobs/{j}/output").json()["displayUrl"] for j in (plain, fast)}
    notes = {j: httpx.get(u).json()["notes"] for j, u in urls.items()}
    assert [n["pitch"] + 3 for n in notes[plain]] == [n["pitch"] for n in notes[fast]]
    assert [round(n["onset"] / 2, 3) for n in notes[plain]] == [round(n["onset"], 3) for n in notes[fast]]
    seconds = {j: alice.get(f"/v1/jobs/{j}").json()["durationSeconds"] for j in (plain, fast)}
    assert seconds[fast] == pytest.approx(seconds[plain] / 2, abs=0.35)  # a phrase may add a 0.3 s pad


# --- errors name the user's file --------------------------------------------------------------------


def test_a_failed_job_names_the_users_file_not_the_upload_id(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    broken = upload(alice, corrupt(), "Broken Song.musicxml")["scoreId"]
    bad = alice.job(broken).json()["id"]
    gone_id = upload(alice, song_bytes(), "Gone Song.musicxml")["scoreId"]
    gone = alice.job(gone_id).json()["id"]
    kit.blobs.delete(f"uploads/alice/{gone_id}.musicxml")
    InlineDriver(kit).drain()
    for job_id, name, score_id in ((bad, "Broken Song.musicxml", broken), (gone, "Gone Song.musicxml", gone_id)):
        error = alice.get(f"/v1/jobs/{job_id}").json()["error"]
        assert name in error["message"] and score_id not in error["message"], error


# --- live progress ----------------------------------------------------------------------------------


def test_progress_counts_phrases_and_estimates_the_time_left(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    job_id = alice.job(upload(alice, song_bytes(10, phrase_per_bar=True), "long.musicxml")["scoreId"]).json()["id"]
    driver = InlineDriver(kit)
    driver.drain(limit=1)  # the render: the plan stored, ten phrases sent
    waiting = alice.get(f"/v1/jobs/{job_id}").json()["progress"]
    assert waiting == {"stage": "phrases", "fraction": 0.0, "done": 0, "total": 10}  # no estimate before a phrase
    driver.drain(limit=4)
    live = alice.get(f"/v1/jobs/{job_id}").json()["progress"]
    assert (live["done"], live["total"], live["fraction"]) == (3, 10, 0.3)
    assert live["etaSeconds"] >= 0.0
    listed = alice.get("/v1/jobs").json()["jobs"][0]["progress"]
    assert (listed["done"], listed["total"]) == (3, 10)


def test_the_estimate_follows_the_pace_so_far() -> None:
    assert eta_seconds(2, 10, started_at=100.0, now=110.0) == 40.0
    assert eta_seconds(0, 10, started_at=100.0, now=110.0) is None
    assert eta_seconds(3, 10, started_at=None, now=110.0) is None
    assert eta_seconds(10, 10, started_at=100.0, now=130.0) == 0.0


# --- cancel while rendering, delete -------------------------------------------------------------------


def test_cancel_a_job_while_its_phrases_render(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    job_id = alice.job(upload(alice, song_bytes(5, phrase_per_bar=True), "five.musicxml")["scoreId"]).json()["id"]
    driver = InlineDriver(kit)
    driver.drain(limit=3)  # the render and two phrases
    assert alice.get(f"/v1/jobs/{job_id}").json()["status"] == "processing"
    cancelled = alice.post(f"/v1/jobs/{job_id}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["credits"] == {"reserved": cancelled["credits"]["reserved"], "charged": 0,
                                    "refunded": cancelled["credits"]["reserved"]}  # fmt: skip
    driver.drain()
    assert driver.answers["failed"] == 0
    skipped = [kit.leases.get(f"{job_id}:{i}")["result"] for i in (2, 3, 4)]  # type: ignore[index]
    assert skipped == [{"skipped": True}] * 3
    job = alice.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "cancelled" and job["error"] is None and job["credits"]["charged"] == 0
    assert kit.blobs.list(f"jobs/{job_id}/") == []  # the assembly skipped: no outputs
    me = alice.me()
    assert (me["balance"], me["reserved"], me["inFlight"]) == (100, 0, 0)
    assert alice.post(f"/v1/jobs/{job_id}/cancel").status_code == 409


def test_delete_a_song_keeps_the_score(client: Clients, kit: Kit) -> None:
    alice, mallory = client("alice"), client("mallory")
    score_id = upload(alice, song_bytes(2), "song.musicxml")["scoreId"]
    done = alice.job(score_id).json()["id"]
    InlineDriver(kit).drain()
    assert kit.blobs.list(f"jobs/{done}/") and kit.blobs.list(f"intermediate/{done}/")
    assert httpx.delete(f"{mallory.base}/v1/jobs/{done}", headers=mallory.headers).status_code == 404
    gone = httpx.delete(f"{alice.base}/v1/jobs/{done}", headers=alice.headers)
    assert gone.status_code == 204 and gone.content == b""
    assert alice.get(f"/v1/jobs/{done}").status_code == 404
    assert kit.blobs.list(f"jobs/{done}/") == [] and kit.blobs.list(f"intermediate/{done}/") == []
    assert alice.get("/v1/jobs").json()["jobs"] == []
    assert httpx.delete(f"{alice.base}/v1/jobs/{done}", headers=alice.headers).status_code == 404
    balance = alice.me()["balance"]  # the completed song was paid for; deleting it refunds nothing
    pending = alice.job(score_id)  # the score is still there
    assert pending.status_code == 202
    assert httpx.delete(f"{alice.base}/v1/jobs/{pending.json()['id']}", headers=alice.headers).status_code == 204
    me = alice.me()
    assert (me["balance"], me["reserved"], me["inFlight"]) == (balance, 0, 0)  # in flight: cancelled, refunded
    assert InlineDriver(kit).drain()["failed"] == 0  # its queued render finds no job and skips
    assert kit.blobs.list(f"jobs/{pending.json()['id']}/") == []


# --- the store parts on both families ----------------------------------------------------------------

SETTINGS = SingerSettings(default_credits=100, max_jobs_in_flight=50, max_song_seconds=60)
OUTPUT = {"wav": "jobs/j/output.wav"}


@pytest.fixture(params=["local", pytest.param("gcp", marks=[pytest.mark.emulator, pytest.mark.slow])])
def family(request: pytest.FixtureRequest, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[
        tuple[DocumentStore, BlobStore]]:  # fmt: skip
    """A document store and a blob store of the family: SQLite and a folder, or the Firestore emulator and
    fake-gcs-server."""
    from pathlib import Path

    if request.param == "local":
        root = Path(str(tmp_path))
        documents: DocumentStore = LocalDocumentStore(root / "documents.sqlite3")
        yield documents, LocalBlobStore(root / "blobs", b"secret", "http://127.0.0.1:1")
        documents.close()
        return
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from taskkit.backends.gcp import create_blob_store, create_document_store

    firestore, gcs = request.getfixturevalue("firestore_host"), request.getfixturevalue("gcs_host")
    project, bucket = f"songs-{uuid.uuid4().hex[:8]}", f"songs-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore.host_port)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs.url)
    storage.Client(project=project, credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                   client_options={"api_endpoint": gcs.url}).create_bucket(bucket)  # fmt: skip
    settings = Settings(backend="gcp", project=project, bucket=bucket, storage_emulator_host=gcs.url)
    documents = create_document_store(settings)
    yield documents, create_blob_store(settings)
    documents.close()


def processing_job(store: DocumentStore, uid: str) -> str:
    request = jobs.JobRequest(uid, f"uploads/{uid}/{'c' * 32}.musicxml", "final", "builtin", None, filename="a.xml")
    job = jobs.create_job(store, request, SETTINGS)
    assert jobs.start_job(store.transaction, job.id) is not None
    return job.id


def account(store: DocumentStore, uid: str) -> tuple[int, int, int]:
    user = store.get(f"users/{uid}") or {}
    return user["credits"], user["reserved"], user["inFlight"]


def ledger_kinds(store: DocumentStore, uid: str, job_id: str) -> set[str]:
    return {s.id.split(":")[-1] for s in store.query(f"users/{uid}/ledger", [("jobId", "==", job_id)])}


def test_complete_then_cancel_charges_once(family: tuple[DocumentStore, BlobStore]) -> None:
    store, _ = family
    job_id = processing_job(store, "ada")
    assert jobs.complete_job(store.transaction, job_id, output=OUTPUT, seconds=25.0, settings=SETTINGS)
    with pytest.raises(JobStateError):
        jobs.cancel_job(store, job_id, "ada")
    job = jobs.get_job(store, job_id, "ada")
    charged = SETTINGS.cost(25.0, "final")
    assert job.status is JobStatus.COMPLETED and job.credits.charged == charged > 0
    assert account(store, "ada") == (100 - charged, 0, 0)
    assert ledger_kinds(store, "ada", job_id) == {"reserve", "charge", "release"}


def test_cancel_then_complete_refunds_once(family: tuple[DocumentStore, BlobStore]) -> None:
    store, _ = family
    job_id = processing_job(store, "bea")
    cancelled = jobs.cancel_job(store, job_id, "bea")
    assert cancelled.status is JobStatus.CANCELLED and cancelled.credits.refunded == cancelled.credits.reserved
    assert not jobs.complete_job(store.transaction, job_id, output=OUTPUT, seconds=25.0, settings=SETTINGS)
    assert not jobs.fail_job(store.transaction, job_id, code="x", message="a late failure hook does nothing")
    job = jobs.get_job(store, job_id, "bea")
    assert job.status is JobStatus.CANCELLED and job.credits.charged == 0 and job.output_path is None
    assert account(store, "bea") == (100, 0, 0)
    assert ledger_kinds(store, "bea", job_id) == {"reserve", "refund"}


def test_cancel_racing_completion_settles_each_job_once(family: tuple[DocumentStore, BlobStore]) -> None:
    store, _ = family
    ids = [processing_job(store, "cat") for _ in range(4)]

    def cancel(job_id: str) -> bool:
        try:
            jobs.cancel_job(store, job_id, "cat")
            return True
        except JobStateError:
            return False

    def complete(job_id: str) -> bool:
        return jobs.complete_job(store.transaction, job_id, output=OUTPUT, seconds=25.0, settings=SETTINGS)

    with ThreadPoolExecutor(max_workers=2) as pool:  # each job's cancel and completion at the same time
        races = [(pool.submit(cancel, j), pool.submit(complete, j)) for j in ids]
        outcomes = [(c.result(), d.result()) for c, d in races]
    assert all(cancelled != completed for cancelled, completed in outcomes)  # exactly one won each job
    charged = sum(jobs.get_job(store, j, "cat").credits.charged for j in ids)
    assert charged == SETTINGS.cost(25.0, "final") * sum(completed for _, completed in outcomes)
    assert account(store, "cat") == (100 - charged, 0, 0)


def test_deleting_a_job_removes_its_document_and_files(family: tuple[DocumentStore, BlobStore]) -> None:
    store, blobs = family
    running, other = processing_job(store, "dan"), processing_job(store, "dan")
    for job_id in (running, other):
        for key in (f"jobs/{job_id}/a/output.wav", f"intermediate/{job_id}/plan.json"):
            blobs.put(key, b"x")
    blobs.put(f"uploads/dan/{'c' * 32}.musicxml", b"<score-partwise/>")
    with pytest.raises(jobs.JobNotFound):
        jobs.delete_job_document(store, running, "eve")
    deleted = jobs.delete_job_document(store, running, "dan")
    assert deleted.status is JobStatus.CANCELLED  # it was in flight: cancelled first
    assert delete_job_files(blobs, running) == 2
    assert store.get(f"jobs/{running}") is None
    assert blobs.list(f"jobs/{running}/") == [] and blobs.list(f"intermediate/{running}/") == []
    assert len(blobs.list(f"jobs/{other}/")) == 1 and blobs.exists(f"uploads/dan/{'c' * 32}.musicxml")
    credits, reserved, in_flight = account(store, "dan")
    assert (credits, reserved, in_flight) == (100, SETTINGS.max_cost("final"), 1)  # only the other job holds credits
