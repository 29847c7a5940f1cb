"""The job and credit flows on the gcp family (Google's Firestore emulator), and the TTL field type."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest

from singer_tasks.jobs import transitions as jobs
from singer_tasks.settings import SingerSettings
from taskkit.backends.base import DocumentStore
from taskkit.backends.gcp import create_document_store
from taskkit.settings import Settings
from tests.emulators import Emulator, firestore_host

__all__ = ["firestore_host"]
pytestmark = [pytest.mark.emulator, pytest.mark.slow]
PROJECT = "singer-jobs"


@pytest.fixture
def store(firestore_host: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[DocumentStore]:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host.host_port)
    reset = f"{firestore_host.url}/emulator/v1/projects/{PROJECT}/databases/(default)/documents"
    httpx.delete(reset, timeout=10).raise_for_status()
    documents = create_document_store(Settings(backend="gcp", project=PROJECT, transaction_attempts=3))
    yield documents
    documents.close()


def request(uid: str) -> jobs.JobRequest:
    return jobs.JobRequest(uid, f"uploads/{uid}/{'c' * 32}.musicxml", "final", "builtin", "en")


def test_20_concurrent_creations_against_a_balance_for_5(store: DocumentStore) -> None:
    settings = SingerSettings(default_credits=5 * SingerSettings().max_cost("final"), max_jobs_in_flight=100)
    jobs.ensure_user(store, "erin", settings)

    def create(_: int) -> str:
        try:
            jobs.create_job(store, request("erin"), settings)
            return "accepted"
        except jobs.InsufficientCredits:
            return "402"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(create, range(20)))
    assert outcomes.count("accepted") == 5 and outcomes.count("402") == 15
    user = store.get("users/erin") or {}
    assert user["reserved"] == user["credits"] == settings.default_credits and user["inFlight"] == 5


def test_transitions_happen_once_on_firestore(store: DocumentStore) -> None:
    settings = SingerSettings()
    jobs.ensure_user(store, "finn", settings)
    done = jobs.create_job(store, request("finn"), settings)
    failed = jobs.create_job(store, request("finn"), settings)
    assert jobs.start_job(store.transaction, done.id) is not None
    output = {"wav": "jobs/x/output.wav"}
    assert jobs.complete_job(store.transaction, done.id, output=output, seconds=25.0, settings=settings)
    assert not jobs.complete_job(store.transaction, done.id, output=output, seconds=25.0, settings=settings)
    assert jobs.fail_job(store.transaction, failed.id, code="no_lyrics", message="m")
    assert not jobs.fail_job(store.transaction, failed.id, code="no_lyrics", message="m")
    user = store.get("users/finn") or {}
    charged = settings.cost(25.0, "final")
    assert charged == 3 and (user["credits"], user["reserved"], user["inFlight"]) == (
        settings.default_credits - 3,
        0,
        0,
    )
    assert jobs.start_job(store.transaction, done.id) is None


def test_ttl_field_is_a_firestore_timestamp(store: DocumentStore, firestore_host: Emulator) -> None:
    from google.cloud import firestore

    store.set("taskkit_leases/t1", {"status": "done", "expireAt": 1_900_000_000.5})
    raw = firestore.Client(project=PROJECT).document("taskkit_leases/t1").get().to_dict()
    assert isinstance(raw["expireAt"], datetime)
    assert store.get("taskkit_leases/t1") == {"status": "done", "expireAt": 1_900_000_000.5}
