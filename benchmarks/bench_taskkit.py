"""Per-task overhead of the push path on the local family (prints figures, asserts nothing).

Three figures, each for a no-op task:
- executor only: decode + lease acquire + run + fenced finish on SQLite, no HTTP, no broker;
- one at a time through the embedded stack (publish -> dispatcher -> HTTP push -> done): latency;
- a burst of N through the embedded stack with 1 and 2 workers: throughput and latency percentiles.
Run: `python -m benchmarks taskkit`.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from taskkit import Kit, Settings
from taskkit.envelope import encode_envelope
from taskkit.executor import Executor
from taskkit.logging import configure_logging
from taskkit.message import TaskMessage
from taskkit.supervisor import free_port, wait_until_healthy

REPO = Path(__file__).resolve().parents[1]
BURST = 300
SERIAL = 60


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def executor_only(data_dir: Path, n: int = 300) -> None:
    kit = Kit("bench", settings=Settings(data_dir=data_dir))
    kit.task(name="bench.noop")(lambda sent_at: None)
    executor = Executor(kit)
    times = []
    for i in range(n):
        body = TaskMessage("bench.noop", f"x{i}", {"sent_at": 0}).encode()
        envelope = encode_envelope(body, {}, message_id=str(i), subscription="s", publish_time=0, delivery_attempt=1)
        start = time.perf_counter()
        executor.handle_push(envelope)
        times.append(time.perf_counter() - start)
    ms = [t * 1000 for t in times]
    print(f"executor only (no HTTP): p50 {percentile(ms, 0.5):.2f} ms, p99 {percentile(ms, 0.99):.2f} ms per task")
    kit.close()


class Stack:
    def __init__(self, data_dir: Path, workers: int) -> None:
        env = dict(os.environ, TASKKIT_BACKEND="local", TASKKIT_DATA_DIR=str(data_dir), TASKKIT_LOG_LEVEL="WARNING")
        env["PYTHONPATH"] = str(REPO)
        self.port = free_port()
        cmd = [sys.executable, "-m", "taskkit", "run", "--app", "benchmarks.taskkit_app:kit", "--web", ""]
        cmd += ["--port", str(self.port), "--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True)
        wait_until_healthy(f"http://127.0.0.1:{self.port}/healthz", alive=lambda: self.proc.poll() is None)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)


def wait_done(kit: Kit, ids: list[str], timeout_s: float = 300) -> list[float]:
    deadline = time.monotonic() + timeout_s
    finished: dict[str, float] = {}
    while len(finished) < len(ids) and time.monotonic() < deadline:
        for snap in kit.documents.query("taskkit_leases", [("status", "==", "done")]):
            if snap.id in ids:
                finished[snap.id] = snap.data["finishedAt"]
        time.sleep(0.01)
    if len(finished) < len(ids):
        raise RuntimeError(f"only {len(finished)} of {len(ids)} tasks finished")
    return [finished[i] for i in ids]


def through_stack(workers: int, *, serial: bool) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="bench-taskkit-"))
    stack = Stack(data_dir, workers)
    kit = Kit("bench", settings=Settings(data_dir=data_dir))
    try:
        if serial:
            latencies = []
            for i in range(SERIAL):
                sent = time.time()
                kit.send_task("bench.noop", {"sent_at": sent}, task_id=f"s{i}")
                [done] = wait_done(kit, [f"s{i}"])
                latencies.append((done - sent) * 1000)
            print(
                f"serial, {workers} worker: enqueue->done p50 {statistics.median(latencies):.1f} ms, "
                f"p99 {percentile(latencies, 0.99):.1f} ms (n={SERIAL})"
            )
            return
        start = time.time()
        sent_at = {}
        for i in range(BURST):
            sent_at[f"b{i}"] = time.time()
            kit.send_task("bench.noop", {"sent_at": sent_at[f"b{i}"]}, task_id=f"b{i}")
        ids = list(sent_at)
        done = wait_done(kit, ids)
        latencies = [(d - sent_at[i]) * 1000 for i, d in zip(ids, done, strict=True)]
        elapsed = max(done) - start
        print(
            f"burst of {BURST}, {workers} worker(s): {BURST / elapsed:.0f} tasks/s, "
            f"latency p50 {statistics.median(latencies):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms"
        )
    finally:
        stack.stop()
        kit.close()


def main() -> None:
    configure_logging(level="WARNING")
    executor_only(Path(tempfile.mkdtemp(prefix="bench-exec-")))
    through_stack(1, serial=True)
    through_stack(1, serial=False)
    through_stack(2, serial=False)


if __name__ == "__main__":
    main()
