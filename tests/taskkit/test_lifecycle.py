"""Stopping the embedded stack, with real processes: no worker outlives its supervisor, and a worker that
dies mid-task has its lease released by the supervisor instead of waiting out the TTL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskkit import Kit, Settings
from taskkit.lease import Acquired
from taskkit.lifecycle import OrphanGuard, release_owner_leases, stop_processes
from tests.taskkit.apps import runs
from tests.taskkit.conftest import Stack, wait_for

pytestmark = pytest.mark.slow

# Generous: the machine running the tests may be busy. The workers' grace period is 10 s.
STOP_DEADLINE_S = 40.0


def gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a recycled pid of another user: ours is gone
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")


def worker_pids(stack: Stack, count: int) -> list[int]:
    """The pids of the stack's workers, once all `count` run."""
    pids = wait_for(lambda: [p for p in stack.health().get("worker_pids", []) if p is not None], what="worker pids")
    assert len(pids) == count
    return [int(p) for p in pids]


def signal_supervisor_only(stack: Stack, sig: int) -> None:
    """Signal the supervising process alone (not its process group): it must stop its workers itself."""
    assert stack.process is not None
    stack.process.send_signal(sig)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_stack_stops_every_worker(settings: Settings, sig: int) -> None:
    stack = Stack(settings.data_dir, workers=2).start()
    try:
        pids = worker_pids(stack, 2)
        signal_supervisor_only(stack, sig)
        assert stack.process is not None
        code = stack.process.wait(STOP_DEADLINE_S)
        wait_for(lambda: all(gone(p) for p in pids), timeout_s=STOP_DEADLINE_S, what="all workers gone")
    finally:
        stack.kill()
    assert code == 128 + sig  # the supervisor ran its cleanup and exited, not killed by the signal


def test_workers_exit_when_their_supervisor_is_killed(settings: Settings) -> None:
    stack = Stack(settings.data_dir, workers=2).start()
    pids = worker_pids(stack, 2)
    try:
        signal_supervisor_only(stack, signal.SIGKILL)  # no cleanup can run in the supervisor
        assert stack.process is not None
        stack.process.wait(STOP_DEADLINE_S)
        wait_for(lambda: all(gone(p) for p in pids), timeout_s=STOP_DEADLINE_S, what="orphaned workers to exit")
    finally:
        for p in pids:  # never leave an orphan behind, even when the test fails
            if not gone(p):
                os.kill(p, signal.SIGKILL)


def test_supervisor_releases_the_lease_of_a_worker_killed_mid_task(kit: Kit, settings: Settings) -> None:
    ttl_s = 120.0  # long: only the supervisor's release can make the redelivery run well before it
    # The timing check wants redelivery to last past a dead worker's lease: 20 deliveries up to 10 s apart.
    stack = Stack(settings.data_dir, workers=2, lease_ttl_s=ttl_s, max_backoff_s=10.0).start()
    try:
        kit.registry["slow_steps"].apply_async({"steps": 100, "step_s": 0.1}, task_id="killed")
        first = wait_for(lambda: runs(kit, "killed"), timeout_s=60, what="the task to start")[0]
        lease = kit.leases.get("killed")
        assert lease is not None and lease["lease_until"] > time.time() + 60  # the long TTL applies
        killed_at = time.time()
        os.kill(int(first["pid"]), signal.SIGKILL)

        def released() -> bool:
            record = kit.leases.get("killed") or {}
            # Either seen between the release and the takeover, or already taken over (fence 2), which
            # before the TTL only a release allows; releasedAt stays on the record either way.
            return bool(record.get("releasedAt")) and (
                record["lease_until"] <= time.time() or record["fence"] >= 2 or record["status"] == "done"
            )

        wait_for(released, timeout_s=30, what="the supervisor to release the dead worker's lease")
        record = kit.leases.get("killed")
        assert record is not None and record["releasedBy"] == "supervisor"
        assert killed_at <= record["releasedAt"] < killed_at + 30
        wait_for(lambda: (kit.leases.get("killed") or {}).get("status") == "done", timeout_s=60, what="redelivery")
        done = kit.leases.get("killed")
        assert done is not None and done["finishedAt"] < killed_at + ttl_s / 2
    finally:
        stack.stop()
    fences = sorted(r["fence"] for r in runs(kit, "killed"))
    assert fences == [1, 2]  # the dead attempt, then the one that took the released lease over
    assert done["fence"] == 2


def test_release_owner_leases_leaves_other_owners_and_finished_tasks_alone(kit: Kit) -> None:
    held = kit.leases.acquire("a", task_name="t", owner="dead", ttl_s=60, max_attempts=3)
    other = kit.leases.acquire("b", task_name="t", owner="alive", ttl_s=60, max_attempts=3)
    finished = kit.leases.acquire("c", task_name="t", owner="dead", ttl_s=60, max_attempts=3)
    assert isinstance(held, Acquired) and isinstance(other, Acquired) and isinstance(finished, Acquired)
    kit.leases.finish(finished.lease)
    assert release_owner_leases(kit.documents, "dead", reason="worker exited") == ["a"]
    assert kit.leases.get("a")["lease_until"] <= time.time()  # type: ignore[index]
    assert kit.leases.get("b")["lease_until"] > time.time() + 30  # type: ignore[index]
    assert kit.leases.get("c")["status"] == "done"  # type: ignore[index]
    again = kit.leases.acquire("a", task_name="t", owner="next", ttl_s=60, max_attempts=3)
    assert isinstance(again, Acquired) and again.lease.fence == 2
    assert release_owner_leases(kit.documents, "dead", reason="again") == []


def test_stop_processes_kills_what_ignores_sigterm() -> None:
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    polite = subprocess.Popen(["sleep", "60"])
    assert stubborn.stdout is not None
    stubborn.stdout.readline()  # its handler is installed
    killed = stop_processes([stubborn, polite], grace_s=1.0)
    assert killed == [stubborn]
    assert stubborn.returncode == -signal.SIGKILL and polite.returncode == -signal.SIGTERM


def test_orphan_guard_shuts_down_then_exits_when_the_parent_changes() -> None:
    calls: list[str] = []
    guard = OrphanGuard(
        os.getppid() + 1_000_000,  # not our parent: as if the supervisor were gone
        lambda: calls.append("shutdown"),
        interval_s=0.01,
        exit_after_s=0.05,
        exit=lambda code: calls.append(f"exit {code}"),
    )
    guard.start()
    wait_for(lambda: len(calls) == 2, timeout_s=10, what="the guard to act")
    assert calls == ["shutdown", "exit 70"]
    quiet: list[str] = []
    OrphanGuard(os.getppid(), lambda: quiet.append("x"), interval_s=0.01).start()
    time.sleep(0.2)
    assert quiet == []
