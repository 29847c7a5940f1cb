"""Hardening of the public API over real HTTP on the embedded stack (a live uvicorn server, local family):
bodies refused before they are read, ids validated at the edge, no tokens in URLs, upload quotas,
create-only signed uploads, failed-job and verified-email checks. Every refusal leaves the blob store,
the temporary folder and the caller's credits as they were."""

from __future__ import annotations

import logging
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.abuse import check_recent_failures, is_verified
from api.params import JobId
from api.tokens import Caller, EventTickets, caller_from_claims
from singer_tasks.settings import SingerSettings
from taskkit import Kit
from taskkit.backends.local.keys import signing_key
from tests.api.conftest import Client, song_bytes
from tests.taskkit.conftest import LiveServer

Clients = Callable[[str], Client]
BIG = 300 * 1024 * 1024  # the 300 MB of the report


@pytest.fixture(autouse=True)
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the server (in this process) would spool a multipart body to disk."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def raw_request(
    url: str, head: str, body_start: bytes = b"", *, rest: Iterator[bytes] | None = None
) -> tuple[int, float]:
    """Send a request's head and the start of its body over a socket, then read the status line.

    Returns the status and how long the answer took. The rest of a declared body is never sent: an
    answer proves the server decided without reading it.
    """
    host, port = url.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.encode() + b"\r\n" + body_start)
        for chunk in rest or ():
            try:
                sock.sendall(chunk)
            except OSError:  # the server answered and closed: stop sending
                break
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    status = int(answer.split(b" ", 2)[1])
    return status, time.monotonic() - started


def multipart_head(path: str, length: int | None, token: str | None = None, *, chunked: bool = False) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: multipart/form-data; boundary=XyZ"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    if token:
        lines.append(f"Authorization: Bearer {token}")
    return "\r\n".join(lines) + "\r\n"


PART_START = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="big.musicxml"\r\n\r\n'


def stored(kit: Kit) -> list[str]:
    return kit.blobs.list("uploads/")


def balance(alice: Client) -> tuple[int, int]:
    me = alice.me()
    return me["balance"], me["reserved"]


# ------------------------------------------------------------------ bodies before authentication


def test_unauthenticated_300mb_upload_is_refused_before_reading(api: LiveServer, kit: Kit, spool_dir: Path) -> None:
    status, took = raw_request(api.url, multipart_head("/v1/uploads", BIG), PART_START + b"<score-partwise")
    assert status == 401 and took < 5
    assert list(spool_dir.iterdir()) == [] and stored(kit) == []


@pytest.mark.parametrize(
    "path", ["/v1/jobs", "/v1/uploads/url", "/v1/events/ticket", "/v1/jobs/" + "a" * 32 + "/cancel"]
)
def test_unauthenticated_bodies_are_never_read_on_any_route(api: LiveServer, path: str) -> None:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {BIG}\r\n"
    assert raw_request(api.url, head, b'{"scoreId": "')[0] == 401


def test_declared_oversized_bodies_are_refused_before_reading(
    client: Clients, api: LiveServer, kit: Kit, spool_dir: Path
) -> None:
    alice = client("alice")
    before = balance(alice)
    token = alice.headers["Authorization"].split()[1]
    status, took = raw_request(api.url, multipart_head("/v1/uploads", BIG, token), PART_START)
    assert status == 413 and took < 5
    head = f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: 1000000\r\n"
    assert raw_request(api.url, head, b"{")[0] == 413
    bad = f"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: lots\r\n"
    assert raw_request(api.url, bad)[0] == 400
    assert list(spool_dir.iterdir()) == [] and stored(kit) == [] and balance(alice) == before


def test_streamed_bodies_are_cut_at_the_limit(
    client: Clients, api: LiveServer, kit: Kit, spool_dir: Path, service_settings: SingerSettings
) -> None:
    alice = client("alice")
    before = balance(alice)
    token = alice.headers["Authorization"].split()[1]
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    limit_chunks = service_settings.max_upload_bytes // len(chunk) + 8
    start = PART_START + b"<score-partwise>"
    first = f"{len(start):x}\r\n".encode() + start + b"\r\n"
    status, _ = raw_request(
        api.url,
        multipart_head("/v1/uploads", None, token, chunked=True),
        first,
        rest=iter([framed] * (limit_chunks * 4)),
    )
    assert status == 413
    assert stored(kit) == [] and balance(alice) == before
    assert sum(f.stat().st_size for f in spool_dir.rglob("*") if f.is_file()) <= 2 * service_settings.max_upload_bytes


def test_small_bodies_still_work(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    score_id = alice.upload(song_bytes())
    assert len(stored(kit)) == 1 and score_id


# ------------------------------------------------------------------ ids at the edge


MALFORMED = ["a b", "~", "%00", "x" * 501, "..%2F..%2Fusers%2Falice", "%2e%2e"]


@pytest.mark.parametrize("job_id", MALFORMED)
def test_malformed_ids_are_4xx_without_a_traceback(
    client: Clients, kit: Kit, job_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    alice = client("alice")
    before = balance(alice)
    with caplog.at_level(logging.ERROR):
        answers = [
            alice.get(f"/v1/jobs/{job_id}"),
            alice.get(f"/v1/jobs/{job_id}/output"),
            alice.post(f"/v1/jobs/{job_id}/cancel"),
            httpx.get(f"{alice.base}/_blobs/uploads/{job_id}?X-Signature=x", timeout=10),
        ]
    for answer in answers:
        assert 400 <= answer.status_code < 500, (answer.request.url, answer.status_code, answer.text)
        assert "Traceback" not in answer.text
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert balance(alice) == before


def test_job_id_type_refuses_malformed_ids_with_422() -> None:
    app = FastAPI()

    @app.get("/jobs/{job_id}")
    def one(job_id: JobId) -> dict[str, str]:
        return {"id": job_id}

    client = TestClient(app)
    assert client.get("/jobs/" + "0123456789abcdef" * 2).status_code == 200
    for bad in [*MALFORMED, "A" * 32, "0" * 31, "0" * 33]:
        assert client.get(f"/jobs/{bad}").status_code in (404, 422), bad


# ------------------------------------------------------------------ tokens in URLs


def test_tokens_in_the_query_string_are_ignored(client: Clients) -> None:
    alice = client("alice")
    token = alice.headers["Authorization"].split()[1]
    for path in ("/v1/me", "/v1/jobs", "/v1/events"):
        assert httpx.get(f"{alice.base}{path}?access_token={token}", timeout=10).status_code == 401, path


def _first_event_lines(url: str, n: int = 1, timeout_s: float = 5.0) -> tuple[int, list[str]]:
    lines: list[str] = []
    with httpx.stream("GET", url, timeout=timeout_s) as response:
        if response.status_code != 200:
            return response.status_code, lines
        deadline = time.monotonic() + timeout_s
        try:
            for line in response.iter_lines():
                if line:
                    lines.append(line)
                if len(lines) >= n or time.monotonic() > deadline:
                    break
        except httpx.ReadTimeout:
            pass  # nothing more to say in that time
    return 200, lines


def test_event_stream_opens_with_a_short_lived_ticket_for_one_user(client: Clients, kit: Kit) -> None:
    alice, bob = client("alice"), client("bob")
    issued = alice.post("/v1/events/ticket")
    assert issued.status_code == 200
    ticket = issued.json()["ticket"]
    assert 0 < issued.json()["expiresInS"] <= 60 and issued.json()["url"] == f"/v1/events?ticket={ticket}"
    status, lines = _first_event_lines(f"{alice.base}/v1/events?ticket={ticket}")
    assert status == 200 and lines[0] == "retry: 2000"
    # A ticket is not a bearer token, and a bearer token is not a ticket.
    assert httpx.get(f"{alice.base}/v1/me", headers={"Authorization": f"Bearer {ticket}"}).status_code == 401
    token = alice.headers["Authorization"].split()[1]
    assert httpx.get(f"{alice.base}/v1/events?ticket={token}", timeout=10).status_code == 401
    # Altered (another user's name) or expired tickets are refused.
    forged = "bob." + ticket.split(".", 1)[1]
    assert httpx.get(f"{alice.base}/v1/events?ticket={forged}", timeout=10).status_code == 401
    expired, _ = EventTickets(signing_key(kit.settings.data_dir), ttl_s=-5).issue("alice")
    assert httpx.get(f"{alice.base}/v1/events?ticket={expired}", timeout=10).status_code == 401
    # Bob's stream shows Bob's jobs only.
    job = alice.job(alice.upload(song_bytes()))
    assert job.status_code == 202
    bob_ticket = bob.post("/v1/events/ticket").json()["ticket"]
    _, bob_lines = _first_event_lines(f"{bob.base}/v1/events?ticket={bob_ticket}", n=3, timeout_s=3)
    assert not any(job.json()["id"] in line for line in bob_lines)
    alice_ticket = alice.post("/v1/events/ticket").json()["ticket"]
    _, alice_lines = _first_event_lines(f"{alice.base}/v1/events?ticket={alice_ticket}", n=3, timeout_s=5)
    assert any(job.json()["id"] in line for line in alice_lines)


# ------------------------------------------------------------------ quotas and create-only uploads


@pytest.fixture
def quota_settings() -> SingerSettings:
    return SingerSettings(
        default_credits=100,
        max_jobs_in_flight=100,
        max_song_seconds=60,
        max_uploads_per_hour=2,
        upload_quota_bytes=10**6,
    )


def test_upload_rate_and_storage_quota(kit: Kit, quota_settings: SingerSettings) -> None:
    from api.main import create_app

    with LiveServer(create_app(kit, quota_settings), port=kit.test_port) as server:  # type: ignore[attr-defined]
        alice = Client(server.url, "alice")
        before = balance(alice)
        alice.upload(song_bytes())
        alice.upload(song_bytes())
        third = alice.post("/v1/uploads", files={"file": ("s.musicxml", song_bytes(), "application/xml")})
        assert third.status_code == 429 and "Retry-After" in third.headers
        assert alice.post("/v1/uploads/url", json={"filename": "s.mxl"}).status_code == 429
        assert len(stored(kit)) == 2 and balance(alice) == before
        # The storage quota counts bytes uploaded within the retention period.
        bob = Client(server.url, "bob")
        big = song_bytes(bars=2) + b" " * 600_000
        assert bob.post("/v1/uploads", files={"file": ("a.musicxml", big, "application/xml")}).status_code == 201
        over = bob.post("/v1/uploads", files={"file": ("b.musicxml", big, "application/xml")})
        assert over.status_code == 413 and "quota" in over.json()["detail"]
        assert len(stored(kit)) == 3


def test_signed_upload_urls_are_create_only(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    grant = alice.post("/v1/uploads/url", json={"filename": "song.musicxml"}).json()
    first = httpx.put(grant["url"], content=song_bytes(), headers=grant["headers"], timeout=10)
    assert first.status_code == 200
    [key] = stored(kit)
    original = kit.blobs.get(key)
    job = alice.job(grant["scoreId"])
    assert job.status_code == 202
    replay = httpx.put(grant["url"], content=song_bytes(bars=4), headers=grant["headers"], timeout=10)
    assert replay.status_code == 409
    assert kit.blobs.get(key) == original


# ------------------------------------------------------------------ failed jobs, verified accounts


def _failed_job(kit: Kit, uid: str, job_id: str, finished_at: float, created_at: float) -> None:
    kit.documents.set(
        f"jobs/{job_id}",
        {
            "userId": uid,
            "status": "failed",
            "createdAt": created_at,
            "finishedAt": finished_at,
            "updatedAt": finished_at,
        },
    )


def test_failed_jobs_are_rate_limited_per_user(kit: Kit, service_settings: SingerSettings) -> None:
    from fastapi import HTTPException

    now = time.time()
    settings = service_settings.model_copy(update={"max_failed_jobs_per_hour": 3})
    for i in range(2):
        _failed_job(kit, "alice", f"{i:032x}", now - 60, now - 120)
    _failed_job(kit, "alice", "f" * 32, now - 7200, now - 7300)  # outside the window
    _failed_job(kit, "mallory", "e" * 32, now - 10, now - 20)
    check_recent_failures(kit.documents, "alice", settings, now)  # two in the hour: allowed
    _failed_job(kit, "alice", "d" * 32, now - 5, now - 30)
    with pytest.raises(HTTPException) as info:
        check_recent_failures(kit.documents, "alice", settings, now)
    assert info.value.status_code == 429 and "3 of your jobs failed" in str(info.value.detail)
    check_recent_failures(kit.documents, "bob", settings, now)


def test_only_verified_accounts_get_credits_and_jobs(service_settings: SingerSettings) -> None:
    unverified = caller_from_claims("u1", {"email_verified": False, "firebase": {"sign_in_provider": "password"}})
    verified = caller_from_claims("u2", {"email_verified": True, "firebase": {"sign_in_provider": "password"}})
    google = caller_from_claims("u3", {"firebase": {"sign_in_provider": "google.com"}})
    assert (unverified.email_verified, unverified.provider) == (False, "password")
    assert not is_verified(unverified, service_settings)
    assert is_verified(verified, service_settings) and is_verified(google, service_settings)
    github = Caller("u4", provider="github.com")
    assert not is_verified(github, service_settings)
    allow = service_settings.model_copy(update={"trusted_sign_in_providers": ("github.com",)})
    assert is_verified(github, allow) and not is_verified(google, allow)
    assert is_verified(Caller("local", email_verified=True, provider="local"), service_settings)


def test_unverified_or_revoked_callers_cannot_upload(api: LiveServer, kit: Kit, client: Clients) -> None:
    """The gcp family's difference, on the live server: the verifier says who is verified/revoked."""
    app: Any = api.server.config.app
    local = app.state.verify_token
    seen: list[bool] = []

    def verify(token: str | None, *, strict: bool = False) -> Caller:
        caller = local(token)
        seen.append(strict)
        if caller.uid == "revoked" and strict:
            from api.tokens import Unauthenticated

            raise Unauthenticated("invalid Firebase ID token: The Firebase ID token has been revoked.")
        return Caller(caller.uid, email_verified=caller.uid != "unverified", provider="password")

    app.state.verify_token = verify
    try:
        for uid, status in (("unverified", 403), ("revoked", 401)):
            user = client(uid)
            answer = user.post("/v1/uploads", files={"file": ("s.musicxml", song_bytes(), "application/xml")})
            assert answer.status_code == status, answer.text
            assert user.post("/v1/uploads/url", json={"filename": "s.mxl"}).status_code == status
        assert stored(kit) == [] and True in seen
        assert client("verified").upload(song_bytes())
    finally:
        app.state.verify_token = local
