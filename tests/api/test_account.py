"""A user's own data: `DELETE /v1/me` removes every blob and document of the caller and nothing of
anyone else's (jobs in flight cancelled first), a deletion cut short finishes when asked again, and
`GET /v1/me/export` hands back the caller's files and records as a zip. Over real HTTP on the
embedded stack; the same deletion on the gcp family against Google's Firestore emulator and
fake-gcs-server, and the Firebase Auth user against the Firebase Auth emulator (firebase-tools)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from singer_tasks.cli.main import main as cli_main
from singer_tasks.jobs import account
from singer_tasks.jobs import transitions as jobs
from singer_tasks.jobs.ledger import ledger_collection
from singer_tasks.jobs.model import upload_info_collection
from singer_tasks.jobs.shares import SHARES, create_share
from singer_tasks.settings import SingerSettings
from taskkit import Kit, Settings
from taskkit.backends.base import BlobStore, DocumentStore, Filter, SignMethod
from taskkit.backends.local.documents import LocalDocumentStore
from tests.api.conftest import Client, song_bytes
from tests.api.driver import InlineDriver
from tests.emulators import Emulator, firestore_host, free_port, gcs_host, missing, stop_group

__all__ = ["firestore_host", "gcs_host"]
Clients = Callable[[str], Client]


def delete(user: Client, path: str) -> httpx.Response:
    return httpx.delete(user.base + path, headers=user.headers, timeout=60)


def blobs_of(kit: Kit) -> dict[str, str]:
    """Every stored blob and a hash of its bytes."""
    return {key: hashlib.sha256(kit.blobs.get(key)).hexdigest() for key in kit.blobs.list("")}


def documents_of(store: DocumentStore, uid: str) -> dict[str, Any]:
    """Every document the service keeps for `uid`, by path."""
    found: dict[str, Any] = {}
    for path in (f"users/{uid}", f"upload_quotas/{uid}"):
        if (data := store.get(path)) is not None:
            found[path] = data
    queries: list[tuple[str, list[Filter]]] = [
        ("jobs", [("userId", "==", uid)]),
        (SHARES, [("owner", "==", uid)]),
        (ledger_collection(uid), []),
        (upload_info_collection(uid), []),
    ]
    for collection, filters in queries:
        found.update({snap.path: snap.data for snap in store.query(collection, filters)})
    if isinstance(store, LocalDocumentStore):
        # Every stored document, whatever its collection: one that names the user in its path or its
        # data is hers (a collection added later cannot escape the deletion tests).
        rows = store._db.connection().execute("SELECT path, data FROM docs").fetchall()
        found.update({path: json.loads(data) for path, data in rows if f'"{uid}"' in data or f"/{uid}" in path})
    return found


def make_songs(user: Client, kit: Kit, count: int = 1) -> list[str]:
    """`count` completed songs of `user`, each with a share link."""
    ids = [user.job(user.upload(song_bytes(2)), renderType="preview").json()["id"] for _ in range(count)]
    InlineDriver(kit).drain()
    for job_id in ids:
        assert user.post(f"/v1/jobs/{job_id}/share").status_code == 200
    return ids


def test_deleting_an_account_removes_all_its_data_and_nothing_else(client: Clients, kit: Kit) -> None:
    alice, bob = client("alice"), client("bob")
    alice_songs, bob_songs = make_songs(alice, kit, 2), make_songs(bob, kit)
    alice_token = alice.get(f"/v1/jobs/{alice_songs[0]}").json()["share"]["token"]
    bob_token = bob.get(f"/v1/jobs/{bob_songs[0]}").json()["share"]["token"]
    in_flight = alice.job(alice.upload(song_bytes(1))).json()["id"]  # queued, not yet rendered
    alices = ("uploads/alice/", *_job_keys([*alice_songs, in_flight]))
    # The phrase cache is shared by content (see singer_tasks/jobs/account.py); the rest is someone's.
    others_before = {k: v for k, v in blobs_of(kit).items() if not k.startswith((*alices, "cache/"))}
    bobs_documents = documents_of(kit.documents, "bob")
    assert documents_of(kit.documents, "alice") and kit.blobs.list("uploads/alice/") and kit.blobs.list("jobs/")

    assert delete(alice, "/v1/me").status_code == 204

    assert documents_of(kit.documents, "alice") == {}
    for job_id in [*alice_songs, in_flight]:
        assert kit.documents.get(f"jobs/{job_id}") is None
    left = blobs_of(kit)
    assert not [k for k in left if k.startswith(alices)]
    assert {k: v for k, v in left.items() if not k.startswith("cache/")} == others_before
    assert others_before and all(k.startswith(("uploads/bob/", *_job_keys(bob_songs))) for k in others_before)
    assert documents_of(kit.documents, "bob") == bobs_documents
    assert httpx.get(f"{alice.base}/v1/shared/{alice_token}").status_code == 404
    assert httpx.get(f"{alice.base}/v1/shared/{bob_token}").status_code == 200
    # The cancelled job's render message, delivered now, finds no job and writes nothing.
    InlineDriver(kit).drain()
    assert not [k for k in kit.blobs.list("") if in_flight in k]
    assert delete(alice, "/v1/me").status_code == 204  # asking again is harmless


def _job_keys(job_ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(p for job_id in job_ids for p in (f"jobs/{job_id}/", f"intermediate/{job_id}/"))


class FailingBlobs(BlobStore):
    """A real blob store whose deletes stop working after `allowed` of them (a crash midway)."""

    def __init__(self, inner: BlobStore, allowed: int) -> None:
        self.inner, self.allowed = inner, allowed

    def _delete(self, key: str) -> None:
        if self.allowed <= 0:
            raise ConnectionError("the process died here")
        self.allowed -= 1
        self.inner.delete(key)

    def _list(self, prefix: str) -> Iterable[str]:
        return self.inner.list(prefix)

    def _put(self, key: str, data: bytes, content_type: str, if_absent: bool) -> None:
        self.inner.put(key, data, content_type=content_type, if_absent=if_absent)

    def _get(self, key: str) -> bytes:
        return self.inner.get(key)

    def _exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def _signed_url(
        self, key: str, method: SignMethod, expires_s: int, content_type: str | None, max_bytes: int | None
    ) -> str:
        return self.inner.signed_url(key, method=method, expires_s=expires_s)


def test_a_deletion_cut_short_finishes_when_asked_again(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    songs = make_songs(alice, kit, 2)
    with pytest.raises(ConnectionError):
        account.delete_account(kit.documents, FailingBlobs(kit.blobs, 3), "alice", account.NoAuthAccounts())
    # Halfway: some of her data is gone, some is left, and she can still sign in and ask again.
    assert kit.blobs.list("uploads/alice/") and documents_of(kit.documents, "alice")
    assert alice.get("/v1/jobs").status_code == 200

    assert delete(alice, "/v1/me").status_code == 204
    assert documents_of(kit.documents, "alice") == {}
    assert not [k for k in kit.blobs.list("") if k.startswith(("uploads/alice/", *_job_keys(songs)))]


def test_jobs_in_flight_are_cancelled_before_they_go(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    pending = alice.job(alice.upload(song_bytes(1))).json()["id"]
    processing = alice.job(alice.upload(song_bytes(1))).json()["id"]
    assert jobs.start_job(kit.documents.transaction, processing) is not None
    seen: list[tuple[str, str]] = []

    class Watching(account.NoAuthAccounts):
        def delete_user(self, uid: str) -> bool:
            seen.append(("auth", uid))
            return super().delete_user(uid)

    report = account.delete_account(kit.documents, kit.blobs, "alice", Watching())
    assert report.jobs_cancelled == 2 and report.jobs_deleted == 2 and set(report.job_ids) == {pending, processing}
    assert seen == [("auth", "alice")]
    InlineDriver(kit).drain()  # the queued renders find nothing to do
    assert not [k for k in kit.blobs.list("") if pending in k or processing in k]
    again = account.delete_account(kit.documents, kit.blobs, "alice", account.NoAuthAccounts())
    assert (again.jobs_deleted, again.blobs_deleted, again.documents_deleted) == (0, 0, 0)


def test_the_operator_cli_deletes_an_account(client: Clients, kit: Kit, capsys: pytest.CaptureFixture[str]) -> None:
    alice = client("alice")
    make_songs(alice, kit)
    assert cli_main(["account", "delete", "alice"]) == 2  # without --yes nothing happens
    assert documents_of(kit.documents, "alice")
    assert cli_main(["account", "delete", "alice", "--yes"]) == 0
    assert "deleted account alice: 1 jobs" in capsys.readouterr().out
    assert documents_of(kit.documents, "alice") == {} and not kit.blobs.list("uploads/alice/")


def test_the_export_holds_the_callers_files_and_records(client: Clients, kit: Kit) -> None:
    alice, bob = client("alice"), client("bob")
    (song,) = make_songs(alice, kit)
    make_songs(bob, kit)
    answer = alice.get("/v1/me/export")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    names = set(archive.namelist())

    uploads = kit.blobs.list("uploads/alice/")
    assert uploads and {"scores/" + k.removeprefix("uploads/alice/") for k in uploads} <= names
    for key in uploads:
        assert archive.read("scores/" + key.removeprefix("uploads/alice/")) == kit.blobs.get(key)
    job = kit.documents.get(f"jobs/{song}") or {}
    for kind in ("wav", "flac", "listen", "ds", "display"):
        key = job["outputs"][kind]
        assert archive.read(f"outputs/{song}/{key.rpartition('/')[2]}") == kit.blobs.get(key)
    exported_jobs = json.loads(archive.read("jobs.json"))
    assert exported_jobs == [alice.get(f"/v1/jobs/{song}").json()]
    ledger = json.loads(archive.read("ledger.json"))
    assert ledger == alice.get("/v1/me/credits", params={"limit": 100}).json()["entries"]
    me = json.loads(archive.read("account.json"))
    assert me["uid"] == "alice" and me["credits"] == alice.me()["balance"]
    assert not [n for n in names if "bob" in n] and all("bob" not in archive.read(n).decode("latin-1") for n in names)
    assert names <= {"jobs.json", "ledger.json", "account.json"} | {
        n for n in names if n.startswith(("scores/", "outputs/"))
    }


def test_an_export_after_deletion_is_empty_and_opens_no_account(client: Clients, kit: Kit) -> None:
    carol = client("carol")  # signing in locally opens the account
    assert kit.documents.get("users/carol") is not None
    assert delete(carol, "/v1/me").status_code == 204
    archive = zipfile.ZipFile(io.BytesIO(carol.get("/v1/me/export").content))
    assert json.loads(archive.read("jobs.json")) == [] and json.loads(archive.read("ledger.json")) == []
    assert kit.documents.get("users/carol") is None


# --- the gcp family: Firestore emulator, fake-gcs-server, Firebase Auth emulator -----------------


@pytest.fixture
def gcp_kit(firestore_host: Emulator, gcs_host: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kit]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    project, bucket = f"singer-{uuid.uuid4().hex[:8]}", f"singer-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host.host_port)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_host.url)
    storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_host.url}
    ).create_bucket(bucket)
    kit = Kit("account-gcp", settings=Settings(backend="gcp", project=project, bucket=bucket, push_auth=False))
    yield kit
    kit.close()


def seed_user(kit: Kit, uid: str) -> list[str]:
    """A user with a completed, shared job, a pending job, an upload and its outputs."""
    settings = SingerSettings()
    score = f"uploads/{uid}/{uuid.uuid4().hex}.musicxml"
    kit.blobs.put(score, song_bytes(1))
    kit.blobs.put(score.replace(".musicxml", ".info.json"), b"{}")
    ids = []
    for _ in range(2):
        job = jobs.create_job(kit.documents, jobs.JobRequest(uid, score, "preview", "builtin", None), settings)
        ids.append(job.id)
    done = ids[0]
    jobs.start_job(kit.documents.transaction, done)
    kit.blobs.put(f"intermediate/{done}/plan.json", b"{}")
    kit.blobs.put(f"jobs/{done}/a/output.wav", b"RIFF")
    output = {"wav": f"jobs/{done}/a/output.wav"}
    assert jobs.complete_job(kit.documents.transaction, done, output=output, seconds=2.0, settings=settings)
    create_share(kit.documents, done, uid)
    kit.documents.set(f"upload_quotas/{uid}", {"count": 1})
    return ids


@pytest.mark.emulator
@pytest.mark.slow
def test_deleting_an_account_on_the_gcp_family(gcp_kit: Kit) -> None:
    ids = seed_user(gcp_kit, "ivy")
    seed_user(gcp_kit, "jon")
    jons_blobs = {k for k in gcp_kit.blobs.list("") if "ivy" not in k and not k.startswith(_job_keys(ids))}
    jons_documents = documents_of(gcp_kit.documents, "jon")
    assert len(documents_of(gcp_kit.documents, "ivy")) >= 6

    report = account.delete_account(gcp_kit.documents, gcp_kit.blobs, "ivy", account.NoAuthAccounts())
    assert report.jobs_deleted == 2 and report.jobs_cancelled == 1 and report.shares_deleted == 1
    assert documents_of(gcp_kit.documents, "ivy") == {}
    assert set(gcp_kit.blobs.list("")) == jons_blobs
    assert documents_of(gcp_kit.documents, "jon") == jons_documents


def firebase_cli() -> str | None:
    """firebase-tools' CLI (its Auth emulator needs no download), if installed."""
    found = os.environ.get("FIREBASE_TOOLS_BIN") or shutil.which("firebase")
    return str(Path(found).resolve()) if found else None  # the emulator starts in a scratch folder


@pytest.fixture(scope="module")
def auth_emulator() -> Iterator[Emulator]:
    """The Firebase Auth emulator of firebase-tools on free ports; skipped (failed in CI) where
    firebase-tools is absent (the nox tests session installs it and sets FIREBASE_TOOLS_BIN)."""
    cli = firebase_cli()
    if cli is None:
        missing("firebase-tools (the Firebase Auth emulator)")
        raise AssertionError("unreachable: missing() skips or fails")
    port, hub, logging_port = free_port(), free_port(), free_port()
    emulators = {"auth": {"host": "127.0.0.1", "port": port}, "hub": {"host": "127.0.0.1", "port": hub}}
    emulators |= {"logging": {"host": "127.0.0.1", "port": logging_port}, "ui": {"enabled": False}}
    with tempfile.TemporaryDirectory(prefix="auth-emulator-") as scratch:
        (Path(scratch) / "firebase.json").write_text(json.dumps({"emulators": emulators}))
        env = {**os.environ, "HOME": scratch, "XDG_CONFIG_HOME": scratch}  # firebase-tools writes its config there
        argv = [cli, "emulators:start", "--only", "auth", "--project", AUTH_PROJECT]
        with (Path(scratch) / "log.txt").open("wb") as log:
            proc = subprocess.Popen(
                argv, cwd=scratch, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        try:
            # Node starts slowly on a busy machine: wait for the emulator itself, or for it to exit.
            url = f"http://127.0.0.1:{port}/"
            while proc.poll() is None:
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            if proc.poll() is not None:
                raise RuntimeError(f"the Auth emulator exited: {(Path(scratch) / 'log.txt').read_text()[-2000:]}")
            yield Emulator("firebase-auth", f"127.0.0.1:{port}")
        finally:
            stop_group(proc)


AUTH_PROJECT = "demo-singer-accounts"


@pytest.mark.emulator
@pytest.mark.slow
def test_the_firebase_auth_user_goes_last_and_reruns_are_harmless(
    auth_emulator: Emulator, kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    from firebase_admin import auth

    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", auth_emulator.host_port)
    firebase = account.FirebaseAuthAccounts(AUTH_PROJECT)
    app = firebase._firebase_app()
    uid = f"kim-{uuid.uuid4().hex[:6]}"
    auth.create_user(uid=uid, email=f"{uid}@example.com", app=app)
    assert auth.get_user(uid, app=app).tokens_valid_after_timestamp == 0
    jobs.ensure_user(kit.documents, uid, SingerSettings())

    firebase.revoke_sessions(uid)
    assert auth.get_user(uid, app=app).tokens_valid_after_timestamp > 0  # old ID tokens now fail strict checks
    report = account.delete_account(kit.documents, kit.blobs, uid, firebase)
    assert report.auth_user_deleted and kit.documents.get(f"users/{uid}") is None
    with pytest.raises(auth.UserNotFoundError):
        auth.get_user(uid, app=app)
    again = account.delete_account(kit.documents, kit.blobs, uid, firebase)
    assert not again.auth_user_deleted
