"""Fixtures of the backend contract suite: each one yields the SAME interface for both families.

`local` runs on SQLite files and a folder (its signed URLs served by uvicorn on loopback); `gcp` runs on
Google's Firestore and Pub/Sub emulators and fake-gcs-server, started once per session (tests/emulators.py),
with URL signing through a local stand-in of IAM signBlob (the Cloud Run path). Emulator state is isolated
per test: Firestore is reset with the emulator's DELETE endpoint, every test gets fresh topics and its own
blob key prefix inside one bucket per session.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskkit.backends.base import BlobStore, Broker, DocumentStore
from taskkit.settings import Settings
from tests.emulators import Emulator, firestore_host, free_port, gcs_host, pubsub_host
from tests.taskkit.backends.standins import IamSignBlobStandIn, RsaTestKey

__all__ = ["firestore_host", "gcs_host", "pubsub_host"]  # session fixtures, re-exported for pytest

# The gcp cases carry the `emulator` mark, so `-m "not emulator"` still runs the local ones.
FAMILIES = ["local", pytest.param("gcp", marks=pytest.mark.emulator)]
PROJECT = "taskkit-contract"
SIGNER = "signer@taskkit-contract.iam.gserviceaccount.com"


@pytest.fixture(params=FAMILIES)
def family(request: pytest.FixtureRequest) -> str:
    """The backend family under test."""
    return str(request.param)


# ---------------------------------------------------------------- document store


@pytest.fixture
def document_store(family: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DocumentStore]:
    """An empty document store of the family."""
    if family == "local":
        pytest.importorskip("taskkit.backends.local.documents", reason="the local family is not committed yet")
        from taskkit.backends.local.documents import LocalDocumentStore

        store: DocumentStore = LocalDocumentStore(tmp_path / "documents.sqlite3")
    else:
        emulator: Emulator = request.getfixturevalue("firestore_host")
        monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emulator.host_port)
        reset = f"{emulator.url}/emulator/v1/projects/{PROJECT}/databases/(default)/documents"
        httpx.delete(reset, timeout=10).raise_for_status()
        from taskkit.backends.gcp import create_document_store

        store = create_document_store(Settings(backend="gcp", project=PROJECT))
    yield store
    store.close()


# ---------------------------------------------------------------- broker


@dataclass
class BrokerHarness:
    """A broker plus a way to see what reached a topic (a pull subscription, or the local queue)."""

    broker: Broker
    family: str
    admin: Any = None  # (publisher, subscriber) clients on the Pub/Sub emulator

    def new_topic(self) -> str:
        """A fresh topic, created with a pull subscription where the broker needs one."""
        topic = f"contract-{uuid.uuid4().hex[:12]}"
        if self.admin is not None:
            publisher, subscriber = self.admin
            publisher.create_topic(name=f"projects/{PROJECT}/topics/{topic}")
            subscriber.create_subscription(
                name=f"projects/{PROJECT}/subscriptions/{topic}", topic=f"projects/{PROJECT}/topics/{topic}"
            )
        return topic

    def received(self, topic: str, count: int, timeout_s: float = 20.0) -> list[tuple[bytes, dict[str, str]]]:
        """The first `count` messages published to `topic`, as (data, attributes)."""
        if self.admin is None:
            return self.broker.pending(topic)[:count]  # type: ignore[attr-defined,no-any-return]
        _, subscriber = self.admin
        got: list[tuple[bytes, dict[str, str]]] = []
        deadline = time.monotonic() + timeout_s
        subscription = f"projects/{PROJECT}/subscriptions/{topic}"
        while len(got) < count and time.monotonic() < deadline:
            wait_s = max(0.5, min(5.0, deadline - time.monotonic()))
            response = subscriber.pull(subscription=subscription, max_messages=10, timeout=wait_s)
            for item in response.received_messages:
                got.append((bytes(item.message.data), dict(item.message.attributes)))
            if response.received_messages:
                subscriber.acknowledge(
                    subscription=subscription, ack_ids=[m.ack_id for m in response.received_messages]
                )
        return got


@pytest.fixture
def broker_harness(family: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BrokerHarness]:
    """A broker of the family and a way to observe its topics."""
    if family == "local":
        pytest.importorskip("taskkit.backends.local.broker", reason="the local family is not committed yet")
        from taskkit.backends.local.broker import LocalBroker

        harness = BrokerHarness(LocalBroker(tmp_path / "broker.sqlite3"), family)
        yield harness
        harness.broker.close()
        return
    emulator: Emulator = request.getfixturevalue("pubsub_host")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", emulator.host_port)
    from google.cloud import pubsub_v1

    from taskkit.backends.gcp import create_broker

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    harness = BrokerHarness(create_broker(Settings(backend="gcp", project=PROJECT)), family, (publisher, subscriber))
    yield harness
    harness.broker.close()
    subscriber.close()


# ---------------------------------------------------------------- blob store


@dataclass
class BlobHarness:
    """A blob store, the key prefix this test owns, and (gcp) the key its URLs are signed with."""

    store: BlobStore
    family: str
    prefix: str
    signing_key: RsaTestKey | None = None

    def key(self, name: str) -> str:
        """`name` inside this test's own prefix."""
        return f"{self.prefix}{name}"


@pytest.fixture(scope="session")
def local_blob_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlobStore]:
    """A local blob store whose signed URLs are served by uvicorn on a loopback port."""
    import uvicorn
    from fastapi import FastAPI

    pytest.importorskip("taskkit.backends.local.blob_routes", reason="the local family is not committed yet")
    from taskkit.backends.local.blob_routes import create_blob_router
    from taskkit.backends.local.blobs import LocalBlobStore

    port = free_port()
    store = LocalBlobStore(tmp_path_factory.mktemp("blobs"), b"contract-secret", f"http://127.0.0.1:{port}")
    app = FastAPI()
    app.include_router(create_blob_router(store))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the local blob server did not start")
        time.sleep(0.05)
    yield store
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def iam_signer() -> Iterator[tuple[str, RsaTestKey]]:
    """A local stand-in of IAM signBlob for SIGNER; yields (endpoint, key)."""
    key = RsaTestKey.generate()
    with IamSignBlobStandIn(SIGNER, key).running() as url:
        yield url, key


@pytest.fixture(scope="session")
def gcs_bucket(gcs_host: Emulator) -> str:
    """One bucket on fake-gcs-server for the whole session."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_host.url}
    )
    name = f"contract-{uuid.uuid4().hex[:12]}"
    client.create_bucket(name)
    return name


@pytest.fixture
def blob_harness(family: str, request: pytest.FixtureRequest) -> BlobHarness:
    """A blob store of the family, with a key prefix of this test's own."""
    prefix = f"t-{uuid.uuid4().hex[:10]}/"
    if family == "local":
        return BlobHarness(request.getfixturevalue("local_blob_server"), family, prefix)
    emulator: Emulator = request.getfixturevalue("gcs_host")
    bucket: str = request.getfixturevalue("gcs_bucket")
    endpoint, key = request.getfixturevalue("iam_signer")
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.url)
    from taskkit.backends.gcp import create_blob_store

    settings = Settings(
        backend="gcp",
        project=PROJECT,
        bucket=bucket,
        signer_service_account=SIGNER,
        iam_credentials_endpoint=endpoint,
    )
    return BlobHarness(create_blob_store(settings), family, prefix, key)
