"""firestore.rules enforced by Google's Firestore emulator (started with --rules), over its REST API.

Documents are seeded with the emulator's admin token (`Bearer owner`, which bypasses rules, like the
server SDKs the api and worker use). Client requests carry an unsigned ID token, which the emulator
accepts for rules evaluation, as the Firebase JS SDK's `mockUserToken` does. The web app's tests
exercise the same rules through the JS SDK and a live listener.
"""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.emulators import Emulator, firestore_binary, free_port, missing, running
from tests.infra.tfmodel import REPO

pytestmark = pytest.mark.emulator

PROJECT = "demo-singer-rules"
DOCS = f"/v1/projects/{PROJECT}/databases/(default)/documents"


@pytest.fixture(scope="module")
def rules_emulator() -> Iterator[Emulator]:
    """A Firestore emulator of its own, enforcing the repository's firestore.rules."""
    binary = firestore_binary()
    if binary is None or shutil.which("java") is None:
        missing("Google's Firestore emulator (with Java)")
    port = free_port()
    argv = [str(binary), "start", "--host=127.0.0.1", f"--port={port}", f"--rules={REPO / 'firestore.rules'}"]
    with running("firestore-rules-emulator", argv, "/", port) as emulator:
        yield emulator


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def user_token(uid: str) -> str:
    """An unsigned Firebase ID token for `uid` (accepted by the emulator only)."""
    now = int(time.time())
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "sub": uid,
        "user_id": uid,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "firebase": {"sign_in_provider": "custom", "identities": {}},
    }
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _fields(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            out[key] = {"booleanValue": value}
        elif isinstance(value, int):
            out[key] = {"integerValue": str(value)}
        else:
            out[key] = {"stringValue": str(value)}
    return {"fields": out}


class Client:
    """REST calls to the emulator as one identity (`owner` = admin, else a user id)."""

    def __init__(self, emulator: Emulator, who: str) -> None:
        token = "owner" if who == "owner" else user_token(who)
        self.http = httpx.Client(base_url=emulator.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def get(self, path: str) -> int:
        return self.http.get(f"{DOCS}/{path}").status_code

    def write(self, path: str, data: dict[str, Any]) -> int:
        return self.http.patch(f"{DOCS}/{path}", json=_fields(data)).status_code

    def delete(self, path: str) -> int:
        return self.http.delete(f"{DOCS}/{path}").status_code

    def query_jobs(self, user_id: str | None) -> int:
        query: dict[str, Any] = {"from": [{"collectionId": "jobs"}]}
        if user_id is not None:
            query["where"] = {
                "fieldFilter": {"field": {"fieldPath": "userId"}, "op": "EQUAL", "value": {"stringValue": user_id}}
            }
        return self.http.post(f"{DOCS}:runQuery", json={"structuredQuery": query}).status_code


@pytest.fixture(scope="module")
def seeded(rules_emulator: Emulator) -> Emulator:
    admin = Client(rules_emulator, "owner")
    assert admin.write("users/alice", {"credits": 10, "reserved": 0, "plan": "free"}) == 200
    assert admin.write("users/bob", {"credits": 10, "reserved": 0, "plan": "free"}) == 200
    assert admin.write("jobs/job-a", {"userId": "alice", "status": "pending"}) == 200
    assert admin.write("jobs/job-b", {"userId": "bob", "status": "pending"}) == 200
    assert admin.write("taskkit_leases/render-job-a", {"status": "running", "owner": "w1"}) == 200
    return rules_emulator


def test_owner_reads_her_job_and_user_document(seeded: Emulator) -> None:
    alice = Client(seeded, "alice")
    assert alice.get("jobs/job-a") == 200
    assert alice.get("users/alice") == 200
    assert alice.query_jobs("alice") == 200


def test_another_user_cannot_read_them(seeded: Emulator) -> None:
    bob = Client(seeded, "bob")
    assert bob.get("jobs/job-a") == 403
    assert bob.get("users/alice") == 403
    assert bob.query_jobs("alice") == 403
    assert bob.query_jobs(None) == 403  # a query not limited to her own jobs is refused whole


def test_signed_out_clients_read_nothing(seeded: Emulator) -> None:
    anonymous = httpx.get(f"{seeded.url}{DOCS}/jobs/job-a", timeout=10)
    assert anonymous.status_code == 403


def test_clients_never_write_credits_or_job_status(seeded: Emulator) -> None:
    alice = Client(seeded, "alice")
    assert alice.write("users/alice", {"credits": 1000000, "reserved": 0, "plan": "free"}) == 403
    assert alice.write("jobs/job-a", {"userId": "alice", "status": "completed"}) == 403
    assert alice.write("jobs/job-new", {"userId": "alice", "status": "pending"}) == 403
    assert alice.delete("jobs/job-a") == 403
    assert Client(seeded, "owner").get("users/alice") == 200  # the seeded documents are still there


def test_taskkit_collections_are_closed(seeded: Emulator) -> None:
    alice = Client(seeded, "alice")
    assert alice.get("taskkit_leases/render-job-a") == 403
    assert alice.write("taskkit_leases/render-job-a", {"status": "done", "owner": "alice"}) == 403
