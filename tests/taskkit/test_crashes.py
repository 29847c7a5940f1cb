"""Crash points, restarts and shutdown, with real processes killed for real."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

import taskkit.executor as executor_module
from taskkit import Kit, Settings
from taskkit.executor import DEAD_LETTERS, Executor
from taskkit.lease import Acquired
from taskkit.message import TaskMessage
from taskkit.supervisor import free_port, wait_until_healthy
from tests.taskkit.apps import count_hook, runs
from tests.taskkit.conftest import REPO, Dispatching, Respawning, Stack, fast_env, push_body, wait_for

pytestmark = pytest.mark.slow


def status(kit: Kit, task_id: str) -> str | None:
    return (kit.leases.get(task_id) or {}).get("status")


def test_messages_survive_a_killed_stack(kit: Kit, settings: Settings) -> None:
    stack = Stack(settings.data_dir).start()
    ids = [kit.registry["record"].apply_async({"sleep_s": 0.15, "value": str(i)}, task_id=f"k{i}") for i in range(20)]
    wait_for(lambda: sum(status(kit, i) == "done" for i in ids) >= 2, what="first tasks done")
    stack.kill()
    done_before = sum(status(kit, i) == "done" for i in ids)
    assert done_before < len(ids)
    restarted = Stack(settings.data_dir).start()
    try:
        wait_for(lambda: all(status(kit, i) == "done" for i in ids), timeout_s=60, what="all done after restart")
    finally:
        restarted.stop()
    executions = [len(runs(kit, i)) for i in ids]
    assert min(executions) == 1
    assert sum(executions) <= len(ids) + 1  # only the task in flight at the kill may run again


def test_worker_killed_between_finishing_and_acking(
    kit: Kit, settings: Settings, dispatch: object, tmp_path: Path
) -> None:
    marker = tmp_path / "crash-once"
    marker.touch()
    port = free_port()
    env = fast_env(settings.data_dir)
    cmd = [sys.executable, "-m", "tests.taskkit.crashing_worker", str(port), str(marker), "once-before-answer"]
    procs = [subprocess.Popen(cmd, env=env, cwd=REPO)]
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url + "/healthz", alive=lambda: procs[-1].poll() is None)
    d: Dispatching = dispatch([url])  # type: ignore[operator]
    try:
        kit.registry["record"].apply_async({"value": "once"}, task_id="ack1")
        wait_for(lambda: procs[0].poll() is not None, what="the worker to die before answering")
        assert status(kit, "ack1") == "done"  # the work finished; only the ack was lost
        procs.append(subprocess.Popen(cmd, env=env, cwd=REPO))
        counts = d.wait_idle(timeout_s=60)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
    assert counts == {"acked": 1}
    assert len(runs(kit, "ack1")) == 1


def test_worker_killed_on_every_delivery_ends_in_dead_letter(
    kit: Kit, settings: Settings, dispatch: object, tmp_path: Path
) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "tests.taskkit.crashing_worker", str(port), str(tmp_path / "m"), "always-on-push"]
    workers = Respawning(cmd, fast_env(settings.data_dir))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url + "/healthz", alive=lambda: True)
        d: Dispatching = dispatch([url])  # type: ignore[operator]
        kit.registry["record"].apply_async({"value": "never"}, task_id="dl1")
        wait_for(lambda: status(kit, "dl1") == "failed", timeout_s=120, what="the task failed via dead letter")
        counts = d.wait_idle(timeout_s=30)
    finally:
        workers.stop()
    assert counts == {"dead_lettered": 1, "acked": 1}  # the push delivery, then its dead-letter copy
    assert workers.starts > 1
    assert count_hook(kit, "dl1") == 1
    assert kit.leases.get("dl1")["error"]["code"] == "dead_lettered"  # type: ignore[index]
    [kept] = [d.data for d in kit.documents.query(DEAD_LETTERS, [("source", "==", "dead-letter")])]
    assert kept["task_id"] == "dl1" and "undeliverable after 20 deliveries" in kept["reason"]
    assert runs(kit, "dl1") == []


def test_worker_killed_mid_task_every_attempt(kit: Kit, settings: Settings) -> None:
    stack = Stack(settings.data_dir).start()
    try:
        kit.registry["crash"].apply_async({}, task_id="dies")
        wait_for(lambda: status(kit, "dies") == "failed", timeout_s=90, what="the task to be failed")
    finally:
        stack.stop()
    assert count_hook(kit, "dies") == 1
    assert len(runs(kit, "dies")) == 3  # each attempt took the expired lease over, then died
    assert kit.leases.get("dies")["error"]["code"] == "max_attempts"  # type: ignore[index]


def test_sweep_fires_a_chord_whose_last_member_died(kit: Kit, settings: Settings, worker: object) -> None:
    from taskkit import chord

    members = [kit.registry["member"].signature({"index": i}, task_id=f"sw:{i}") for i in range(3)]
    callback = kit.registry["join"].signature({"chord_id": "sw"}, task_id="sw:join")
    chord(members, callback, chord_id="sw").apply_async(kit)
    # Every member finishes, but the process dies before anyone publishes the callback: the state
    # a crash leaves is exactly "all member leases done, chord still open".
    for m in members:
        got = kit.leases.acquire(
            m.task_id, task_name="member", owner="dead", ttl_s=5, max_attempts=3, extra={"chord": "sw"}
        )
        assert isinstance(got, Acquired)
        kit.leases.finish(got.lease)
    env = fast_env(settings.data_dir)
    sweep = [sys.executable, "-m", "taskkit", "sweep", "--app", "tests.taskkit.apps:kit"]
    first = subprocess.run(sweep, env=env, cwd=REPO, capture_output=True, text=True, check=True)
    second = subprocess.run(sweep, env=env, cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(first.stdout)["chords_fired"] == 1
    assert json.loads(second.stdout)["chords_fired"] == 0
    from taskkit.backends.local.broker import LocalBroker

    pending = LocalBroker(settings.data_dir / "broker.sqlite3").pending("tasks")
    callbacks = [json.loads(data) for data, attrs in pending if attrs["id"] == "sw:join"]
    assert len(callbacks) == 1
    url = worker.url  # type: ignore[attr-defined]
    message = TaskMessage.from_dict(callbacks[0])
    for _ in range(2):
        assert httpx.post(url + "/_taskkit/push", content=push_body(message), timeout=30).status_code == 200
    assert len(runs(kit, "sw:join")) == 1


def test_stale_worker_fenced_write_refused(kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    stale, fresh = Executor(kit), Executor(kit.__class__("other", settings=kit.settings))
    fresh.kit = kit
    fresh.owner = "fresh-worker"
    body = push_body(TaskMessage("write_shared", "w1", {"key": "k", "first_sleep_s": 2.5}))
    answers: dict[str, object] = {}
    # The first worker stalls whole, heartbeat included (a frozen VM): its lease is not renewed.
    monkeypatch.setattr(executor_module.Heartbeat, "_run", lambda self: None)
    t = threading.Thread(target=lambda: answers.setdefault("stale", stale.handle_push(body)))
    t.start()
    wait_for(lambda: status(kit, "w1") == "running", what="first attempt running")
    monkeypatch.undo()  # the fresh worker's heartbeat works
    time.sleep(1.7)  # its 1.5 s lease expires while it stalls
    answers["fresh"] = fresh.handle_push(body)
    t.join(10)
    assert answers["fresh"].answer.value == "done"  # type: ignore[attr-defined]
    assert answers["stale"].answer.value == "stale"  # type: ignore[attr-defined]
    assert kit.documents.get("shared/k") == {"writer_fence": 2, "attempt": 2}
    assert status(kit, "w1") == "done"


def test_sigterm_releases_the_lease_for_immediate_redelivery(kit: Kit, settings: Settings) -> None:
    port = free_port()
    cmd = [sys.executable, "-m", "taskkit", "worker", "--app", "tests.taskkit.apps:kit", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=fast_env(settings.data_dir), cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    wait_until_healthy(url + "/healthz", alive=lambda: proc.poll() is None)
    body = push_body(TaskMessage("slow_steps", "term", {"steps": 200, "step_s": 0.1}))
    answer: dict[str, int] = {}

    def deliver() -> None:
        answer["code"] = httpx.post(url + "/_taskkit/push", content=body, timeout=60).status_code

    t = threading.Thread(target=deliver)
    t.start()
    wait_for(lambda: status(kit, "term") == "running", what="task running")
    proc.send_signal(signal.SIGTERM)
    t.join(20)
    assert proc.wait(20) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once drained
    assert answer["code"] == 503
    lease = kit.leases.get("term")
    assert lease["lease_until"] <= time.time()  # type: ignore[index]
    again = kit.leases.acquire("term", task_name="slow_steps", owner="next", ttl_s=30, max_attempts=5)
    assert isinstance(again, Acquired) and again.lease.fence == 2


def test_worker_refuses_unsafe_timing_at_start(settings: Settings) -> None:
    env = fast_env(settings.data_dir, ack_deadline_s=15)  # slow_steps has a 20 s time limit
    cmd = [sys.executable, "-m", "taskkit", "worker", "--app", "tests.taskkit.apps:kit", "--port", str(free_port())]
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "slow_steps" in done.stderr and "exceeds the ack deadline" in done.stderr


def test_help_explains_every_command() -> None:
    out = subprocess.run([sys.executable, "-m", "taskkit", "--help"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0
    for command in ("run", "worker", "sweep"):
        assert command in out.stdout
