"""Soak test of the embedded stack under faults (prints figures; asserts nothing about time).

Sends M tasks (default 300) through `python -m taskkit run` with 2 workers while a worker is killed
(SIGKILL) every K seconds and some tasks are published twice (duplicate deliveries). Prints the CPU,
the counts, tasks whose body ran to completion more than once (should be 0), tasks lost (should be 0),
enqueue->done latency percentiles, and for each kill how long until the killed worker's task was done
and until the supervisor had a replacement process running.

Run: `python -m benchmarks soak`, or `python -m benchmarks.bench_soak --tasks 300 --kill-every 5`.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

import taskkit
from taskkit import Kit, Settings
from taskkit.backends.base import Transaction
from taskkit.logging import configure_logging
from taskkit.supervisor import free_port, wait_until_healthy

REPO = Path(__file__).resolve().parents[1]
APP = "benchmarks.bench_soak:kit"
WORKERS = 2
# Fast redelivery, so a nack costs little; 100 deliveries up to 2 s apart outlast the 30 s lease TTL.
TIMINGS = {
    "TASKKIT_ACK_DEADLINE_S": "30",
    "TASKKIT_MAX_DELIVERY_ATTEMPTS": "100",
    "TASKKIT_MIN_BACKOFF_S": "0.05",
    "TASKKIT_MAX_BACKOFF_S": "2",
    "TASKKIT_DEADLINE_MARGIN_S": "1",
    "TASKKIT_GRACE_S": "1",
}

kit = Kit("soak")


@kit.task(name="soak.work", max_attempts=10, time_limit_s=5, min_backoff_s=0.05, max_backoff_s=0.5)
def work(sleep_s: float) -> None:
    """Sleep a little, then count one completion in a fenced transaction (a stale attempt cannot)."""
    ctx = taskkit.current()
    # The pid tells the benchmark which task a killed worker was running.
    kit.documents.set(f"soak_starts/{ctx.task_id}-{ctx.fence}", {"pid": os.getpid(), "fence": ctx.fence})
    deadline = time.monotonic() + sleep_s
    while time.monotonic() < deadline:
        ctx.check_time()
        time.sleep(0.02)

    def complete(tx: Transaction) -> None:
        doc = tx.get(f"soak_done/{ctx.task_id}") or {"count": 0}
        tx.set(f"soak_done/{ctx.task_id}", {"count": doc["count"] + 1, "fence": ctx.fence})

    ctx.transaction(complete)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclass
class Kill:
    at: float
    index: int
    pid: int
    task_id: str | None
    task_done_s: float | None = None
    replaced_s: float | None = None


@dataclass
class Soak:
    data_dir: Path
    tasks: int
    kill_every_s: float
    duplicate_every: int
    seed: int
    kills: list[Kill] = field(default_factory=list)

    def start_stack(self) -> tuple[subprocess.Popen[bytes], str]:
        env = dict(os.environ, TASKKIT_BACKEND="local", TASKKIT_DATA_DIR=str(self.data_dir))
        env.update(TIMINGS, TASKKIT_LOG_LEVEL="ERROR", PYTHONPATH=str(REPO))
        port = free_port()
        cmd = [sys.executable, "-m", "taskkit", "run", "--app", APP, "--web", ""]
        cmd += ["--port", str(port), "--workers", str(WORKERS)]
        proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url + "/healthz", alive=lambda: proc.poll() is None)
        return proc, url

    def victim_task(self, client: Kit, pid: int) -> str | None:
        """The task the worker `pid` is running, if any (its start record carries the pid)."""
        for snap in client.documents.query("taskkit_leases", [("status", "==", "running")]):
            start = client.documents.get(f"soak_starts/{snap.id}-{snap.data.get('fence')}")
            if start and start.get("pid") == pid:
                return snap.id
        return None

    def killer(self, client: Kit, url: str, stop: threading.Event) -> None:
        rng = random.Random(self.seed)
        while not stop.wait(self.kill_every_s):
            health = httpx.get(url + "/healthz", timeout=10).json()
            live = [(i, p) for i, (p, a) in enumerate(zip(health["worker_pids"], health["workers"], strict=True)) if a]
            if not live:
                continue
            index, pid = rng.choice(live)
            task_id = self.victim_task(client, pid)
            kill = Kill(time.time(), index, pid, task_id)
            os.kill(pid, signal.SIGKILL)
            self.kills.append(kill)
            threading.Thread(target=self.follow, args=(client, url, kill), daemon=True).start()

    def follow(self, client: Kit, url: str, kill: Kill) -> None:
        """Record when the killed worker's task is done and when its replacement process runs."""
        deadline = time.time() + 120
        while time.time() < deadline and (kill.replaced_s is None or (kill.task_id and kill.task_done_s is None)):
            if kill.replaced_s is None:
                health = httpx.get(url + "/healthz", timeout=10).json()
                if health["workers"][kill.index] and health["worker_pids"][kill.index] != kill.pid:
                    kill.replaced_s = time.time() - kill.at
            if kill.task_id and kill.task_done_s is None:
                lease = client.leases.get(kill.task_id) or {}
                if lease.get("status") == "done":
                    kill.task_done_s = lease["finishedAt"] - kill.at
            time.sleep(0.02)

    def run(self) -> None:
        proc, url = self.start_stack()
        client = Kit("soak-client", settings=Settings(backend="local", data_dir=self.data_dir))
        rng = random.Random(self.seed)
        sent_at: dict[str, float] = {}
        duplicates = 0
        stop = threading.Event()
        killer = threading.Thread(target=self.killer, args=(client, url, stop), daemon=True)
        begin = time.time()
        killer.start()
        try:
            for i in range(self.tasks):
                task_id = f"soak-{i}"
                sent_at[task_id] = time.time()
                kwargs: dict[str, Any] = {"sleep_s": rng.uniform(0.05, 0.3)}
                client.send_task("soak.work", kwargs, task_id=task_id)
                if self.duplicate_every and i % self.duplicate_every == 0:
                    client.send_task("soak.work", kwargs, task_id=task_id)  # a retried publish
                    duplicates += 1
                time.sleep(rng.uniform(0.0, 0.05))
            finished = self.wait_done(client, list(sent_at), timeout_s=150)
        finally:
            stop.set()
            killer.join(30)
            time.sleep(1)  # let followers of a last kill record what they can
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
        elapsed = time.time() - begin
        completions = {s.id: int(s.data["count"]) for s in client.documents.query("soak_done")}
        twice = sum(1 for c in completions.values() if c > 1)
        lost = [t for t in sent_at if t not in finished]
        latencies = [(finished[t] - sent_at[t]) * 1000 for t in finished]
        print(f"CPU: {cpu_model()} ({os.cpu_count()} logical), {WORKERS} workers, seed {self.seed}")
        print(f"tasks: {self.tasks} in {elapsed:.1f} s; kills: {len(self.kills)} (every {self.kill_every_s:g} s)")
        print(f"duplicates delivered: {duplicates}")
        print(f"tasks run more than once to completion: {twice} (must be 0)")
        print(f"tasks lost: {len(lost)} (must be 0){' ' + ', '.join(lost[:10]) if lost else ''}")
        if latencies:
            print(
                f"enqueue->done latency: p50 {statistics.median(latencies):.0f} ms, "
                f"p95 {percentile(latencies, 0.95):.0f} ms, max {max(latencies):.0f} ms"
            )
        for n, k in enumerate(self.kills, 1):
            task = f"task {k.task_id} done after {_s(k.task_done_s)}" if k.task_id else "no task held"
            print(
                f"kill {n}: worker {k.index} (pid {k.pid}) at +{k.at - begin:.1f} s: {task}; "
                f"replacement running after {_s(k.replaced_s)}"
            )
        client.close()

    @staticmethod
    def wait_done(client: Kit, ids: list[str], timeout_s: float) -> dict[str, float]:
        """finishedAt of every task done, waiting up to `timeout_s` for all of them."""
        wanted = set(ids)
        deadline = time.monotonic() + timeout_s
        finished: dict[str, float] = {}
        while time.monotonic() < deadline:
            for snap in client.documents.query("taskkit_leases", [("status", "==", "done")]):
                if snap.id in wanted:
                    finished[snap.id] = snap.data["finishedAt"]
            if len(finished) == len(wanted):
                break
            time.sleep(0.2)
        return finished


def _s(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "n/a"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_soak", description=__doc__)
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument("--kill-every", type=float, default=5.0, help="seconds between worker kills")
    parser.add_argument("--duplicate-every", type=int, default=10, help="publish every Nth task twice (0: never)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv or [])
    configure_logging(level="WARNING")
    data_dir = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    Soak(data_dir, args.tasks, args.kill_every, args.duplicate_every, args.seed).run()


if __name__ == "__main__":
    main(sys.argv[1:])
