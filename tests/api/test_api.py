"""The public API over real HTTP on the local family: auth, uploads, jobs, credits, pagination."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from singer_tasks.settings import SingerSettings
from taskkit import Kit
from taskkit.backends.local.broker import LocalBroker
from tests.api.conftest import Client, song_bytes
from tests.taskkit.conftest import LiveServer

Clients = Callable[[str], Client]


def test_openapi_names_every_route_with_models(api: LiveServer) -> None:
    spec = httpx.get(api.url + "/openapi.json").json()
    for path in ("/v1/uploads/url", "/v1/uploads", "/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/output",
                 "/v1/jobs/{job_id}/cancel", "/v1/me", "/v1/auth/local", "/healthz"):  # fmt: skip
        assert path in spec["paths"], path
    create = spec["paths"]["/v1/jobs"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/JobCreate")
    assert create["responses"]["202"]["content"]["application/json"]["schema"]["$ref"].endswith("/Job")
    assert {"402", "429", "404"} <= set(create["responses"])


def test_missing_and_bad_tokens_are_401(api: LiveServer) -> None:
    assert httpx.get(api.url + "/v1/me").status_code == 401
    assert httpx.get(api.url + "/v1/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    forged = "alice.9999999999." + "0" * 64
    assert httpx.get(api.url + "/v1/jobs", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_sign_in_gives_the_starting_balance(client: Clients) -> None:
    me = client("alice").me()
    assert (me["balance"], me["reserved"], me["available"], me["inFlight"]) == (100, 0, 100, 0)


def test_upload_sniffs_the_content(client: Clients, service_settings: SingerSettings) -> None:
    alice = client("alice")
    assert alice.upload(song_bytes())
    pdf = alice.post("/v1/uploads", files={"file": ("song.musicxml", b"%PDF-1.7 ...", "application/pdf")})
    assert pdf.status_code == 415 and "PDF" in pdf.json()["detail"]
    html = alice.post("/v1/uploads", files={"file": ("song.xml", b"<html><body/></html>", "text/xml")})
    assert html.status_code == 415 and "not a MusicXML score" in html.json()["detail"]
    name = alice.post("/v1/uploads", files={"file": ("song.pdf", song_bytes(), "application/pdf")})
    assert name.status_code == 400 and ".mxl" in name.json()["detail"]
    big = b" " * (service_settings.max_upload_bytes + 1)
    assert alice.post("/v1/uploads", files={"file": ("big.xml", big, "text/xml")}).status_code == 413


def test_signed_put_url_binds_type_and_size(client: Clients, service_settings: SingerSettings) -> None:
    alice = client("alice")
    grant = alice.post("/v1/uploads/url", json={"filename": "Song.MXL"}).json()
    assert grant["url"].startswith("http") and grant["maxBytes"] == service_settings.max_upload_bytes
    wrong_type = httpx.put(grant["url"], content=b"x", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 403
    too_big = httpx.put(grant["url"], content=b"x" * (grant["maxBytes"] + 1), headers=grant["headers"])
    assert too_big.status_code == 413
    from tests.singer_tasks.fixtures.scores.xmlbuild import to_mxl

    assert httpx.put(grant["url"], content=to_mxl(song_bytes()), headers=grant["headers"]).status_code == 200
    assert alice.job(grant["scoreId"]).status_code == 202


def test_job_creation_reserves_and_queues(client: Clients, kit: Kit, service_settings: SingerSettings) -> None:
    alice = client("alice")
    response = alice.job(alice.upload(song_bytes()), renderType="preview", language="en")
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "pending" and job["credits"]["reserved"] == service_settings.max_cost("preview")
    assert alice.me()["reserved"] == service_settings.max_cost("preview")
    [(_, attributes)] = LocalBroker(kit.settings.data_dir / "broker.sqlite3").pending("render-jobs")
    assert attributes == {"task": "singer.render", "id": f"render-{job['id']}"}


def test_other_users_jobs_and_uploads_are_invisible(client: Clients) -> None:
    alice, mallory = client("alice"), client("mallory")
    score_id = alice.upload(song_bytes())
    job_id = alice.job(score_id).json()["id"]
    assert mallory.get(f"/v1/jobs/{job_id}").status_code == 404
    assert mallory.get(f"/v1/jobs/{job_id}/output").status_code == 404
    assert mallory.post(f"/v1/jobs/{job_id}/cancel").status_code == 404
    assert mallory.job(score_id).status_code == 404  # her scoreId names no upload of his
    assert mallory.get("/v1/jobs").json()["jobs"] == []
    for bad in ("../alice/" + score_id, score_id + "/../x", "%2e%2e"):
        assert mallory.job(bad).status_code == 422


def test_cancel_refunds_once(client: Clients) -> None:
    alice = client("alice")
    job_id = alice.job(alice.upload(song_bytes())).json()["id"]
    cancelled = alice.post(f"/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["credits"]["refunded"] == cancelled.json()["credits"]["reserved"]
    assert alice.post(f"/v1/jobs/{job_id}/cancel").status_code == 409
    me = alice.me()
    assert (me["balance"], me["reserved"], me["inFlight"]) == (100, 0, 0)
    assert alice.get(f"/v1/jobs/{job_id}/output").status_code == 409


def test_jobs_list_is_paginated_newest_first(client: Clients) -> None:
    alice = client("alice")
    score_id = alice.upload(song_bytes())
    ids = [alice.job(score_id, renderType="preview").json()["id"] for _ in range(5)]
    first = alice.get("/v1/jobs", params={"limit": 2}).json()
    second = alice.get("/v1/jobs", params={"limit": 2, "before": first["nextBefore"]}).json()
    third = alice.get("/v1/jobs", params={"limit": 2, "before": second["nextBefore"]}).json()
    listed = [j["id"] for page in (first, second, third) for j in page["jobs"]]
    assert listed == ids[::-1]
    assert third["nextBefore"] is None


@pytest.mark.parametrize(
    "service_settings", [SingerSettings(default_credits=180, max_jobs_in_flight=100, max_song_seconds=180)]
)
def test_50_concurrent_creations_against_a_balance_for_10(
    client: Clients, service_settings: SingerSettings, kit: Kit
) -> None:
    alice = client("alice")
    assert service_settings.default_credits == 10 * service_settings.max_cost("final")
    score_id = alice.upload(song_bytes())
    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(lambda _: alice.job(score_id).status_code, range(50)))
    assert codes.count(202) == 10 and codes.count(402) == 40
    me = alice.me()
    assert me["reserved"] == me["balance"] == 180 and me["available"] == 0 and me["inFlight"] == 10
    assert "credits" in alice.job(score_id).json()["detail"]


@pytest.mark.parametrize("service_settings", [SingerSettings(max_jobs_in_flight=2)])
def test_in_flight_cap_answers_429(client: Clients) -> None:
    alice = client("alice")
    score_id = alice.upload(song_bytes())
    assert [alice.job(score_id, renderType="preview").status_code for _ in range(3)] == [202, 202, 429]
    assert "limit is 2" in alice.job(score_id).json()["detail"]
