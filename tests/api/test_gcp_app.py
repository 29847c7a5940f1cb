"""The API wired for the gcp family: no local sign-in, Firebase tokens required, CORS for Hosting only."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.main import create_app
from taskkit import Kit, Settings


def gcp_app() -> TestClient:
    # Nothing connects at start: backends are built on first use, and these requests need none.
    kit = Kit("api-gcp", settings=Settings(backend="gcp", project="singer-prod", bucket="b", push_auth=False))
    return TestClient(create_app(kit))


def test_local_sign_in_does_not_exist_on_gcp() -> None:
    client = gcp_app()
    # 404, or 405 where the built SPA is mounted at / (it answers GET only).
    assert client.post("/v1/auth/local", json={"uid": "alice"}).status_code in (404, 405)
    assert "/v1/auth/local" not in client.get("/openapi.json").json()["paths"]


def test_requests_need_a_firebase_id_token() -> None:
    client = gcp_app()
    assert client.get("/v1/me").status_code == 401
    answer = client.get("/v1/jobs", headers={"Authorization": "Bearer not-a-jwt"})
    assert answer.status_code == 401 and "Firebase ID token" in answer.json()["detail"]


def test_cors_allows_the_hosting_origins_only() -> None:
    client = gcp_app()
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    for origin in ("https://singer-prod.web.app", "https://singer-prod.firebaseapp.com"):
        answer = client.options("/v1/jobs", headers={"Origin": origin, **preflight})
        assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == origin
    evil = client.options("/v1/jobs", headers={"Origin": "https://evil.example", **preflight})
    assert evil.status_code == 400 and "access-control-allow-origin" not in evil.headers
