"""The credit routes over HTTP: the caller's ledger (GET /v1/me/credits, newest first, paged) and the
operators' grant (POST /v1/admin/users/{uid}/credits), 403 for everyone but admins."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from api.routes.admin import is_admin
from api.tokens import Caller, caller_from_claims
from singer_tasks.settings import SingerSettings
from taskkit import Kit, Settings
from tests.api.conftest import Client, song_bytes
from tests.taskkit.conftest import LiveServer

Clients = Callable[[str], Client]


@pytest.fixture
def service_settings() -> SingerSettings:
    """The suite's settings, with `root` an operator (the local family's admin list)."""
    return SingerSettings(default_credits=100, max_jobs_in_flight=100, max_song_seconds=60, admin_uids=("root",))


def test_my_credits_list_the_ledger_newest_first(client: Clients, service_settings: SingerSettings) -> None:
    ada = client("ada")
    first = ada.get("/v1/me/credits")
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["balance"], body["reserved"], body["available"], body["plan"]) == (100, 0, 100, "free")
    assert [(e["id"], e["kind"], e["amount"], e["balanceAfter"]) for e in body["entries"]] == [
        ("signup", "grant", 100, 100)
    ]
    job = ada.job(ada.upload(song_bytes()))
    assert job.status_code == 202, job.text
    job_id = job.json()["id"]
    assert ada.post(f"/v1/jobs/{job_id}/cancel").status_code == 200
    reserve = service_settings.max_cost("final")
    page = ada.get("/v1/me/credits", params={"limit": 2}).json()
    assert [(e["id"], e["amount"], e["jobId"]) for e in page["entries"]] == [
        (f"{job_id}:refund", reserve, job_id),
        (f"{job_id}:reserve", -reserve, job_id),
    ]
    assert page["entries"][1]["reservedAfter"] == reserve and page["nextBefore"] == 2
    rest = ada.get("/v1/me/credits", params={"limit": 2, "before": page["nextBefore"]}).json()
    assert [e["id"] for e in rest["entries"]] == ["signup"] and rest["nextBefore"] is None
    assert client("bob").get("/v1/me/credits").json()["entries"][0]["id"] == "signup"  # each sees only their own
    assert ada.get("/v1/me/credits", params={"limit": 0}).status_code == 422


def test_admin_grant_is_403_for_users_and_200_for_admins(client: Clients) -> None:
    ada, root = client("ada"), client("root")
    ada.me()
    refused = ada.post("/v1/admin/users/ada/credits", json={"amount": 1000, "reason": "free money"})
    assert refused.status_code == 403
    assert ada.me()["balance"] == 100
    granted = root.post("/v1/admin/users/ada/credits", json={"amount": 50, "reason": "ticket 7", "requestId": "t7"})
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert (body["uid"], body["balance"], body["created"]) == ("ada", 150, True)
    assert body["entry"]["id"] == "grant:t7" and body["entry"]["actor"] == "admin:root"
    again = root.post("/v1/admin/users/ada/credits", json={"amount": 50, "reason": "ticket 7", "requestId": "t7"})
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["balance"] == 150
    assert ada.me()["balance"] == 150
    assert ada.get("/v1/me/credits").json()["entries"][0]["reason"] == "ticket 7"
    missing = root.post("/v1/admin/users/nobody/credits", json={"amount": 5, "reason": "x"})
    assert missing.status_code == 404
    assert root.post("/v1/admin/users/ada/credits", json={"amount": 0, "reason": "x"}).status_code == 422
    assert root.post("/v1/admin/users/ada/credits", json={"amount": 5, "reason": ""}).status_code == 422
    debit = root.post("/v1/admin/users/ada/credits", json={"amount": -1000, "reason": "x"})
    assert debit.status_code == 402 and debit.json()["code"] == "insufficient_credits"


def test_admin_routes_need_a_token(api: LiveServer) -> None:
    import httpx

    assert httpx.post(f"{api.url}/v1/admin/users/ada/credits", json={"amount": 5, "reason": "x"}).status_code == 401


def test_the_admin_claim_comes_from_the_token(kit: Kit) -> None:
    assert caller_from_claims("op", {"admin": True}).admin
    assert not caller_from_claims("op", {"admin": "true"}).admin and not caller_from_claims("op", {}).admin
    settings = SingerSettings(admin_uids=("root",))
    assert is_admin(Caller("op", admin=True), kit, settings)
    assert is_admin(Caller("root"), kit, settings) and not is_admin(Caller("ada"), kit, settings)
    gcp = Kit("gcp-test", settings=Settings(backend="gcp", project="p"))
    assert not is_admin(Caller("root"), gcp, settings)  # on the gcp family only the token's claim counts
    assert is_admin(Caller("op", admin=True), gcp, settings)
