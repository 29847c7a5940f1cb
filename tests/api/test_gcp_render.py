"""The render job on the gcp family, end to end: Google's Pub/Sub emulator pushes the render, its
phrase tasks and the assembly to a real worker; jobs, leases and chords live in the Firestore
emulator, scores and outputs in fake-gcs-server."""

from __future__ import annotations

import io
import uuid
import wave
from collections.abc import Iterator

import pytest

from singer_tasks.jobs import transitions as jobs
from singer_tasks.kit import RENDER_TASK, RENDER_TOPIC, render_task_id
from singer_tasks.kit import kit as service_kit
from singer_tasks.settings import SingerSettings
from taskkit import Kit, Settings
from taskkit.worker import DEAD_LETTER_PATH, PUSH_PATH, create_worker_app
from tests.api.conftest import song_bytes
from tests.emulators import Emulator, firestore_host, free_port, gcs_host, pubsub_host
from tests.taskkit.conftest import LiveServer, wait_for

__all__ = ["firestore_host", "gcs_host", "pubsub_host"]
pytestmark = [pytest.mark.emulator, pytest.mark.slow]


@pytest.fixture
def gcp_kit(
    firestore_host: Emulator, pubsub_host: Emulator, gcs_host: Emulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Kit]:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import pubsub_v1, storage

    project, bucket = f"singer-{uuid.uuid4().hex[:8]}", f"singer-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_host.host_port)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_host.host_port)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_host.url)
    storage.Client(
        project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_host.url}
    ).create_bucket(bucket)
    service_kit.configure(Settings(backend="gcp", project=project, bucket=bucket, push_auth=False))
    port = free_port()
    with LiveServer(create_worker_app(service_kit, watchdog=False), port=port):
        publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
        topic = publisher.topic_path(project, RENDER_TOPIC)
        dead = publisher.topic_path(project, service_kit.settings.dead_letter_topic(RENDER_TOPIC))
        publisher.create_topic(name=topic)
        publisher.create_topic(name=dead)
        for name, source, path, policy in (
            ("push", topic, PUSH_PATH, {"dead_letter_topic": dead, "max_delivery_attempts": 20}),
            ("dead-letter-push", dead, DEAD_LETTER_PATH, None),
        ):
            request = {
                "name": f"projects/{project}/subscriptions/{RENDER_TOPIC}-{name}",
                "topic": source,
                "push_config": {"push_endpoint": f"http://127.0.0.1:{port}{path}"},
                "ack_deadline_seconds": 600,
            }
            if policy:
                request["dead_letter_policy"] = policy
            subscriber.create_subscription(request=request)
        yield service_kit
        subscriber.close()
    service_kit.close()
    service_kit._settings = None


def test_a_job_renders_through_real_pubsub_firestore_and_gcs(gcp_kit: Kit) -> None:
    settings = SingerSettings()
    score_key = f"uploads/hana/{uuid.uuid4().hex}.musicxml"
    gcp_kit.blobs.put(score_key, song_bytes(3, phrase_per_bar=True), if_absent=True)
    job = jobs.create_job(gcp_kit.documents, jobs.JobRequest("hana", score_key, "final", "builtin", None), settings)
    gcp_kit.send_task(RENDER_TASK, {"job_id": job.id}, task_id=render_task_id(job.id), topic=RENDER_TOPIC)
    done = wait_for(
        lambda: (d := gcp_kit.documents.get(f"jobs/{job.id}")) and d["status"] in ("completed", "failed") and d,
        timeout_s=120,
        what="the job to end",
    )
    assert done["status"] == "completed", done.get("error")
    with wave.open(io.BytesIO(gcp_kit.blobs.get(done["outputPath"]))) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(6.0, abs=0.01)
    members = gcp_kit.documents.query("taskkit_leases", [("chord", "==", job.id), ("status", "==", "done")])
    assert len(members) == 3 and len(gcp_kit.blobs.list("cache/phrases/")) == 3
    user = gcp_kit.documents.get("users/hana") or {}
    charged = done["credits"]["charged"]
    assert charged == 1 and (user["credits"], user["reserved"], user["inFlight"]) == (
        settings.default_credits - 1,
        0,
        0,
    )
