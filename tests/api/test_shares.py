"""Share links over real HTTP on the embedded stack: a completed song's link plays without sign-in,
stops after a revoke or its expiry (the clock is injected), leads to nothing else of the owner's, and
the database keeps only the token's hash. The domain functions also run on Google's Firestore
emulator, and the shares collection is closed to clients under firestore.rules."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import api.main
from api.main import create_app
from api.routes import shares as share_routes
from singer_tasks.jobs import shares
from singer_tasks.jobs import transitions as jobs
from singer_tasks.settings import SingerSettings
from taskkit import Kit
from taskkit.backends.base import DocumentStore
from taskkit.backends.gcp import create_document_store
from taskkit.settings import Settings
from tests.api.conftest import Client, song_bytes
from tests.api.driver import InlineDriver
from tests.emulators import Emulator, firestore_host
from tests.infra.test_firestore_rules import DOCS as RULES_DOCS
from tests.infra.test_firestore_rules import Client as RulesClient
from tests.infra.test_firestore_rules import rules_emulator
from tests.taskkit.conftest import LiveServer

__all__ = ["firestore_host", "rules_emulator"]

DAY_S = 86_400
SHARED_FIELDS = {"title", "voice", "durationSeconds", "listenUrl", "listenType", "url", "display", "expiresAt"}


class Served:
    """The API over real HTTP, with its app at hand to override dependencies (the clock, the limiter)."""

    def __init__(self, app: FastAPI, url: str) -> None:
        self.app, self.url = app, url
        self.now = 1_900_000_000.0
        app.dependency_overrides[share_routes.get_clock] = lambda: lambda: self.now

    def user(self, uid: str) -> Client:
        return Client(self.url, uid)

    def shared(self, token: str, **kw: Any) -> httpx.Response:
        return httpx.get(f"{self.url}/v1/shared/{token}", timeout=30, **kw)


@pytest.fixture
def served(kit: Kit, service_settings: SingerSettings) -> Iterator[Served]:
    app = create_app(kit, service_settings)
    with LiveServer(app, port=kit.test_port) as server:  # type: ignore[attr-defined]
        yield Served(app, server.url)


def completed_job(owner: Client, kit: Kit, title: str = "Morning song") -> str:
    job_id: str = owner.job(owner.upload(song_bytes(2)), renderType="preview", title=title).json()["id"]
    InlineDriver(kit).drain()
    assert owner.get(f"/v1/jobs/{job_id}").json()["status"] == "completed"
    return job_id


def delete(owner: Client, path: str) -> httpx.Response:
    return httpx.delete(owner.base + path, headers=owner.headers, timeout=30)


def test_a_share_link_plays_without_sign_in(served: Served, kit: Kit) -> None:
    alice = served.user("alice")
    job_id = completed_job(alice, kit)
    made = alice.post(f"/v1/jobs/{job_id}/share", json={"expiresInDays": 7})
    assert made.status_code == 200, made.text
    share = made.json()
    token = share["token"]
    assert len(token) >= 43 and share["url"] == f"/s/{token}" and share["expiresAt"] == served.now + 7 * DAY_S
    assert alice.get(f"/v1/jobs/{job_id}").json()["share"] == share
    assert alice.post(f"/v1/jobs/{job_id}/share").json() == share  # one active link per song

    answer = served.shared(token)  # no Authorization header
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    song = answer.json()
    assert set(song) == SHARED_FIELDS
    assert song["title"] == "Morning song" and song["voice"] == "builtin" and song["durationSeconds"] > 0
    assert song["expiresAt"] == share["expiresAt"]
    wav = httpx.get(song["url"])
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav" and wav.content[:4] == b"RIFF"
    assert song["listenType"] == "audio/mpeg" and httpx.get(song["listenUrl"]).status_code == 200
    assert json.loads(httpx.get(song["display"]).content)["notes"]
    # Nothing names the owner (the signed URLs name the job's files, and a job id opens nothing: below).
    assert "alice" not in answer.text


def test_the_database_keeps_only_the_tokens_hash(served: Served, kit: Kit) -> None:
    alice = served.user("alice")
    job_id = completed_job(alice, kit)
    token = alice.post(f"/v1/jobs/{job_id}/share").json()["token"]
    records = kit.documents.query(shares.SHARES)
    assert [r.id for r in records] == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in json.dumps([r.data for r in records])
    assert records[0].data["owner"] == "alice" and records[0].data["jobId"] == job_id
    assert records[0].data["revoked"] is False


def test_a_revoked_link_is_refused_like_an_unknown_one(served: Served, kit: Kit) -> None:
    alice = served.user("alice")
    job_id = completed_job(alice, kit)
    token = alice.post(f"/v1/jobs/{job_id}/share").json()["token"]
    unknown = served.shared("x" * 43)
    assert unknown.status_code == 404

    assert delete(alice, f"/v1/jobs/{job_id}/share").status_code == 204
    revoked = served.shared(token)
    assert revoked.status_code == 404 and revoked.json() == unknown.json()
    assert alice.get(f"/v1/jobs/{job_id}").json()["share"] is None
    assert delete(alice, f"/v1/jobs/{job_id}/share").status_code == 204  # revoking twice is fine

    fresh = alice.post(f"/v1/jobs/{job_id}/share").json()["token"]
    assert fresh != token and served.shared(fresh).status_code == 200
    assert served.shared(token).status_code == 404


def test_an_expired_link_is_refused_and_urls_never_outlive_it(served: Served, kit: Kit) -> None:
    alice = served.user("alice")
    job_id = completed_job(alice, kit)
    share = alice.post(f"/v1/jobs/{job_id}/share", json={"expiresInDays": 1}).json()
    unknown = served.shared("y" * 43).json()

    served.now = share["expiresAt"] - 30
    assert served.shared(share["token"]).status_code == 200
    served.now = share["expiresAt"]
    expired = served.shared(share["token"])
    assert expired.status_code == 404 and expired.json() == unknown
    # After expiry the owner gets a new link on asking again.
    renewed = alice.post(f"/v1/jobs/{job_id}/share").json()
    assert renewed["token"] != share["token"] and renewed["expiresAt"] == served.now + 30 * DAY_S
    assert len(kit.documents.query(shares.SHARES)) == 1  # the expired record went with it


def test_a_deleted_songs_link_leads_nowhere(served: Served, kit: Kit) -> None:
    alice = served.user("alice")
    job_id = completed_job(alice, kit)
    token = alice.post(f"/v1/jobs/{job_id}/share").json()["token"]
    unknown = served.shared("w" * 43).json()
    assert delete(alice, f"/v1/jobs/{job_id}").status_code == 204
    gone = served.shared(token)
    assert gone.status_code == 404 and gone.json() == unknown


def test_the_token_opens_nothing_else(served: Served, kit: Kit) -> None:
    alice = served.user("alice")
    job_id = completed_job(alice, kit)
    other_job = completed_job(alice, kit, title="Evening song")
    token = alice.post(f"/v1/jobs/{job_id}/share").json()["token"]
    as_bearer = {"Authorization": f"Bearer {token}"}
    for method, path in (
        ("GET", "/v1/me"),
        ("GET", "/v1/me/credits"),
        ("GET", "/v1/me/export"),
        ("GET", "/v1/jobs"),
        ("GET", f"/v1/jobs/{job_id}"),
        ("GET", f"/v1/jobs/{job_id}/output"),
        ("GET", f"/v1/jobs/{other_job}"),
        ("GET", f"/v1/jobs/{other_job}/output"),
        ("POST", f"/v1/jobs/{other_job}/share"),
        ("DELETE", f"/v1/jobs/{job_id}/share"),
        ("DELETE", "/v1/me"),
    ):
        answer = httpx.request(method, served.url + path, headers=as_bearer, timeout=30)
        assert answer.status_code == 401, (method, path, answer.status_code)
    # Job ids are not tokens, and the other song has no link.
    assert served.shared(job_id).status_code == 404 and served.shared(other_job).status_code == 404
    assert served.shared(token).status_code == 200  # nothing above revoked or spent it
    assert alice.get("/v1/me").status_code == 200  # nor touched the owner's account


def test_only_the_owner_shares_and_only_a_completed_song(served: Served, kit: Kit) -> None:
    alice, bob = served.user("alice"), served.user("bob")
    pending = alice.job(alice.upload(song_bytes(1))).json()["id"]
    refused = alice.post(f"/v1/jobs/{pending}/share")
    assert refused.status_code == 409 and refused.json()["code"] == "job_state"
    done = completed_job(alice, kit)
    assert bob.post(f"/v1/jobs/{done}/share").status_code == 404
    alice.post(f"/v1/jobs/{done}/share")
    assert delete(bob, f"/v1/jobs/{done}/share").status_code == 404
    assert alice.post(f"/v1/jobs/{done}/share", json={"expiresInDays": 400}).status_code == 422
    assert httpx.post(f"{served.url}/v1/jobs/{done}/share", timeout=30).status_code == 401


def test_the_public_route_is_rate_limited_per_client(served: Served) -> None:
    limiter = share_routes.RateLimiter(3)
    served.app.dependency_overrides[share_routes.get_limiter] = lambda: limiter
    answers = [served.shared("z" * 43).status_code for _ in range(4)]
    assert answers == [404, 404, 404, 429]
    limited = served.shared("z" * 43)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    # Another address (as a proxy reports it) has its own allowance; the next window starts afresh.
    assert served.shared("z" * 43, headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    served.now += 60
    assert served.shared("z" * 43).status_code == 404


def test_a_deep_link_to_a_shared_song_serves_the_spa(tmp_path: Path, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "index.html").write_text("<!doctype html><title>singer spa</title>")
    monkeypatch.setattr(api.main, "WEB_DIST", dist)
    client = TestClient(create_app(kit, SingerSettings()))
    page = client.get("/s/AbC-_123")
    assert page.status_code == 200 and "singer spa" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert client.get("/v1/shared/AbC-_123").status_code == 404  # the API route is not shadowed


# --- the domain functions on Google's Firestore emulator -------------------------------------------


@pytest.fixture
def store(firestore_host: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[DocumentStore]:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host.host_port)
    project = f"singer-shares-{uuid.uuid4().hex[:8]}"
    documents = create_document_store(Settings(backend="gcp", project=project, transaction_attempts=3))
    yield documents
    documents.close()


def completed_on(store: DocumentStore, uid: str) -> str:
    settings = SingerSettings()
    request = jobs.JobRequest(uid, f"uploads/{uid}/{'c' * 32}.musicxml", "final", "builtin", None)
    job = jobs.create_job(store, request, settings)
    jobs.start_job(store.transaction, job.id)
    output = {"wav": f"jobs/{job.id}/a/output.wav"}
    assert jobs.complete_job(store.transaction, job.id, output=output, seconds=4.0, settings=settings)
    return job.id


@pytest.mark.emulator
@pytest.mark.slow
def test_shares_on_firestore(store: DocumentStore) -> None:
    now = 1_900_000_000.0
    job_id = completed_on(store, "gina")
    share = shares.create_share(store, job_id, "gina", days=2, now=now)
    assert shares.create_share(store, job_id, "gina", now=now + 5) == share
    found = shares.resolve_share(store, share.token, now=now + 1)
    assert found is not None and found.job.id == job_id and found.record.owner == "gina"
    assert shares.resolve_share(store, share.token, now=now + 2 * DAY_S) is None
    assert shares.resolve_share(store, share.token + "x", now=now) is None
    with pytest.raises(jobs.JobNotFound):
        shares.create_share(store, job_id, "hal", now=now)
    assert shares.revoke_share(store, job_id, "gina", now=now + 2)
    assert shares.resolve_share(store, share.token, now=now + 3) is None
    assert not shares.revoke_share(store, job_id, "gina", now=now + 4)
    again = shares.create_share(store, job_id, "gina", now=now + 5)
    assert shares.resolve_share(store, again.token, now=now + 6) is not None
    store.delete(f"jobs/{job_id}")  # a deleted song's link leads nowhere
    assert shares.resolve_share(store, again.token, now=now + 7) is None
    # the revoked record (kept until its expiry) and the active one
    assert shares.delete_job_shares(store, job_id) == 2 and not store.query(shares.SHARES)


# --- firestore.rules ---------------------------------------------------------------------------------


@pytest.mark.emulator
def test_clients_can_neither_read_nor_list_shares(rules_emulator: Emulator) -> None:
    admin, alice = RulesClient(rules_emulator, "owner"), RulesClient(rules_emulator, "alice")
    for client in (admin, alice):  # a fresh emulator's first rule evaluations are slow on a busy machine
        client.http.timeout = httpx.Timeout(120)
    assert admin.write("shares/abc", {"owner": "alice", "jobId": "job-a", "revoked": False}) == 200
    assert alice.get("shares/abc") == 403
    assert alice.write("shares/abc", {"owner": "alice", "jobId": "job-b", "revoked": False}) == 403
    assert alice.delete("shares/abc") == 403
    listing = alice.http.post(
        f"{RULES_DOCS}:runQuery", json={"structuredQuery": {"from": [{"collectionId": "shares"}]}}
    )
    assert listing.status_code == 403
