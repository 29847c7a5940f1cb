"""The render service on the real embedded stack (`python -m taskkit run`): the whole path over HTTP,
and crashes of real worker processes."""

from __future__ import annotations

import io
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from singer_tasks.jobs import transitions as jobs
from singer_tasks.kit import RENDER_TASK, RENDER_TOPIC, render_task_id
from singer_tasks.settings import SingerSettings
from taskkit import Kit, Settings
from taskkit.backends.local.dispatcher import LocalDispatcher
from taskkit.supervisor import free_port, subscriptions_for, wait_until_healthy
from tests.api.conftest import song_bytes
from tests.taskkit.conftest import FAST, REPO, Respawning, Stack, fast_env, wait_for

pytestmark = pytest.mark.slow
# Generous time limits: these machines are shared, and a render slowed down by a busy neighbour must
# not be mistaken for a hung one. 30 deliveries keep redelivering (about 50 s) past a dead worker's lease.
SERVICE_ENV = {
    "SINGER_RENDER_TIME_LIMIT_S": "25",
    "SINGER_DEFAULT_CREDITS": "100",
    "SINGER_STALE_PENDING_S": "1",
    "TASKKIT_MAX_DELIVERY_ATTEMPTS": "30",
}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def stack(data_dir: Path) -> Iterator[Stack]:
    s = Stack(data_dir, app="singer_tasks.render.tasks:kit", web="api.main:create_app", env=SERVICE_ENV).start()
    yield s
    s.stop()


@pytest.fixture
def store_kit(data_dir: Path) -> Iterator[Kit]:
    """A Kit on the stack's data folder, to look at documents and blobs directly."""
    k = Kit("observer", settings=Settings(backend="local", data_dir=data_dir, **FAST))  # type: ignore[arg-type]
    yield k
    k.close()


def sign_in(base: str, uid: str) -> dict[str, str]:
    token = httpx.post(f"{base}/v1/auth/local", json={"uid": uid}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def job_status(kit: Kit, job_id: str) -> str | None:
    return (kit.documents.get(f"jobs/{job_id}") or {}).get("status")


def listen(
    base: str, auth: dict[str, str], jobs: list[dict[str, Any]], phrases: list[dict[str, Any]], timeout_s: float
) -> None:
    """Collect the event stream's `job` and `phrases` events until a job completes or fails."""
    kind = "message"
    with httpx.stream("GET", f"{base}/v1/events", headers=auth, timeout=timeout_s) as response:
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                (phrases if kind == "phrases" else jobs).append(data)
                if kind == "job" and data["status"] in ("completed", "failed"):
                    return


def test_full_flow_over_http(stack: Stack) -> None:
    auth = sign_in(stack.url, "alice")
    grant = httpx.post(f"{stack.url}/v1/uploads/url", json={"filename": "song.musicxml"}, headers=auth).json()
    assert httpx.put(grant["url"], content=song_bytes(2), headers=grant["headers"]).status_code == 200
    events: list[dict[str, Any]] = []
    phrases: list[dict[str, Any]] = []
    listener = threading.Thread(target=listen, args=(stack.url, auth, events, phrases, 60), daemon=True)
    listener.start()
    job = httpx.post(f"{stack.url}/v1/jobs", json={"scoreId": grant["scoreId"]}, headers=auth).json()
    listener.join(60)
    assert [e["status"] for e in events][-1] == "completed", events
    statuses = [e["status"] for e in events]
    assert statuses.index("processing") < statuses.index("completed")
    assert any(e["progress"]["stage"] not in ("queued", "done") for e in events)
    # A short song may finish between two polls of the stream: its phrases need not be announced.
    assert all(p["jobId"] == job["id"] for p in phrases)
    done = httpx.get(f"{stack.url}/v1/jobs/{job['id']}", headers=auth).json()
    assert done["status"] == "completed"
    output = httpx.get(f"{stack.url}/v1/jobs/{job['id']}/output", headers=auth).json()
    with wave.open(io.BytesIO(httpx.get(output["url"]).content)) as w:
        seconds = w.getnframes() / w.getframerate()
    assert 4.0 <= seconds <= 4.35 and seconds == pytest.approx(done["durationSeconds"], abs=0.01)


def pid_of_owner(owner: str) -> int:
    """The process whose lease owner id is `owner` (the supervisor gives each worker TASKKIT_OWNER)."""
    wanted = f"TASKKIT_OWNER={owner}".encode()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and wanted in (proc / "environ").read_bytes().split(b"\0"):
                return int(proc.name)
        except OSError:  # a process that ended or is not ours
            continue
    raise AssertionError(f"no process runs as lease owner {owner}")


def test_sigkill_mid_render_completes_and_charges_once(stack: Stack, store_kit: Kit) -> None:
    auth = sign_in(stack.url, "bob")
    up = httpx.post(f"{stack.url}/v1/uploads", files={"file": ("s.xml", song_bytes(8))}, headers=auth).json()
    job_id = httpx.post(f"{stack.url}/v1/jobs", json={"scoreId": up["scoreId"]}, headers=auth).json()["id"]

    def phrase_running() -> tuple[str, str] | None:
        leases = store_kit.documents.query("taskkit_leases", [("chord", "==", job_id), ("status", "==", "running")])
        return (leases[0].id, leases[0].data["owner"]) if leases else None

    task_id, owner = wait_for(phrase_running, what="a phrase to be rendering")
    os.kill(pid_of_owner(owner), signal.SIGKILL)  # the worker process, mid-phrase
    wait_for(lambda: job_status(store_kit, job_id) in ("completed", "failed"), timeout_s=150, what="the job to end")
    assert job_status(store_kit, job_id) == "completed", store_kit.documents.get(f"jobs/{job_id}")
    assert (store_kit.leases.get(task_id) or {})[
        "attempts"
    ] == 2  # taken over once (the supervisor released the dead worker's lease)
    job = httpx.get(f"{stack.url}/v1/jobs/{job_id}", headers=auth).json()
    assert job["attempts"] == 1
    me = httpx.get(f"{stack.url}/v1/me", headers=auth).json()
    assert me["balance"] == 100 - job["credits"]["charged"] and me["reserved"] == 0 and me["inFlight"] == 0
    assert len([k for k in store_kit.blobs.list(f"jobs/{job_id}/") if k.endswith(".wav")]) == 1


def test_sweep_completes_a_job_whose_publish_was_lost(stack: Stack, store_kit: Kit) -> None:
    store_kit.blobs.put("uploads/carol/" + "a" * 32 + ".musicxml", song_bytes(1))
    request = jobs.JobRequest("carol", "uploads/carol/" + "a" * 32 + ".musicxml", "preview", "builtin", None)
    job = jobs.create_job(store_kit.documents, request, SingerSettings())  # written, never published
    wait_for(lambda: True)
    import time

    time.sleep(1.5)  # older than SINGER_STALE_PENDING_S
    env = fast_env(store_kit.settings.data_dir) | SERVICE_ENV
    sweep = subprocess.run(
        [sys.executable, "-m", "taskkit", "sweep"], env=env, cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(sweep.stdout)["republished"] == {
        "singer_tasks.render.tasks.republish_stale_jobs": 1,
        "singer_tasks.jobs.refill.refill_monthly_allowances": 0,  # carol was refilled for this month at sign-up
        "singer_tasks.render.tasks.expire_old_blobs": 0,  # nothing is older than its retention
    }
    wait_for(lambda: job_status(store_kit, job.id) == "completed", timeout_s=60, what="the swept job")


def test_worker_dying_on_every_delivery_fails_and_refunds_once(data_dir: Path, store_kit: Kit, tmp_path: Path) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "tests.taskkit.crashing_worker", str(port), str(tmp_path / "m"), "always-on-push"]
    workers = Respawning([*cmd, "singer_tasks.render.tasks:kit"], fast_env(data_dir) | SERVICE_ENV)
    url = f"http://127.0.0.1:{port}"
    dispatcher = LocalDispatcher(
        data_dir / "broker.sqlite3", subscriptions_for(store_kit.settings, [RENDER_TOPIC], [url])
    )
    try:
        wait_until_healthy(url + "/healthz", alive=lambda: True)
        store_kit.blobs.put("uploads/dave/" + "b" * 32 + ".musicxml", song_bytes(1))
        request = jobs.JobRequest("dave", "uploads/dave/" + "b" * 32 + ".musicxml", "final", "builtin", None)
        job = jobs.create_job(store_kit.documents, request, SingerSettings())
        store_kit.send_task(RENDER_TASK, {"job_id": job.id}, task_id=render_task_id(job.id), topic=RENDER_TOPIC)
        dispatcher.start()
        wait_for(lambda: job_status(store_kit, job.id) == "failed", timeout_s=120, what="the job to fail")
    finally:
        dispatcher.stop()
        workers.stop()
    failed = store_kit.documents.get(f"jobs/{job.id}") or {}
    assert failed["error"]["code"] == "dead_lettered"
    assert failed["credits"]["refunded"] == failed["credits"]["reserved"] > 0
    user = store_kit.documents.get("users/dave") or {}
    assert (user["credits"], user["reserved"], user["inFlight"]) == (SingerSettings().default_credits, 0, 0)


def test_two_workers_render_phrases_at_the_same_time(data_dir: Path, store_kit: Kit) -> None:
    stack = Stack(data_dir, 2, app="singer_tasks.render.tasks:kit", web="api.main:create_app", env=SERVICE_ENV).start()
    try:
        auth = sign_in(stack.url, "gina")
        score = song_bytes(6, phrase_per_bar=True)
        up = httpx.post(f"{stack.url}/v1/uploads", files={"file": ("s.xml", score)}, headers=auth).json()
        job_id = httpx.post(f"{stack.url}/v1/jobs", json={"scoreId": up["scoreId"]}, headers=auth).json()["id"]
        wait_for(lambda: job_status(store_kit, job_id) == "completed", timeout_s=120, what="the job")
    finally:
        stack.stop()
    members = store_kit.documents.query("taskkit_leases", [("chord", "==", job_id)])
    assert len(members) == 6
    owners = {m.data["owner"] for m in members}
    assert len(owners) == 2  # both worker processes sang phrases
    spans = sorted((m.data["startedAt"], m.data["finishedAt"]) for m in members)
    assert any(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans))


def test_the_event_stream_carries_phrase_progress(stack: Stack) -> None:
    auth = sign_in(stack.url, "ivan")
    score = song_bytes(20, phrase_per_bar=True)
    up = httpx.post(f"{stack.url}/v1/uploads", files={"file": ("s.xml", score)}, headers=auth).json()
    events: list[dict[str, Any]] = []
    phrases: list[dict[str, Any]] = []
    listener = threading.Thread(target=listen, args=(stack.url, auth, events, phrases, 120), daemon=True)
    listener.start()
    httpx.post(f"{stack.url}/v1/jobs", json={"scoreId": up["scoreId"]}, headers=auth)
    listener.join(120)
    assert events and events[-1]["status"] == "completed"
    fractions = [e["progress"]["fraction"] for e in events if e["progress"]["stage"] == "phrases"]
    assert any(0.0 < f < 1.0 for f in fractions), fractions
    assert fractions == sorted(fractions)  # phrases only ever finish
    # Seen mid-render, the finished phrases were announced too, and their number only grows.
    announced = [len(p["ready"]) for p in phrases]
    assert announced and announced == sorted(announced), phrases
