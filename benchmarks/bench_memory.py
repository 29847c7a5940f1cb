"""Long-running memory of one worker process: `--renders` (default 200) render jobs, RSS after each 20.

One `python -m taskkit run --workers 1` stack with the render service; jobs of the built-in voice, each
a fresh short song (a new seed, so no phrase comes from the cache), sent 20 at a time. After each batch
has ended, the worker's resident set size is read from /proc. Growth above 10% after the first 20 is a
leak (exit status 1); a worker restart during the run is reported, since it would hide one.
`python -m benchmarks memory [--renders N] [--bars B]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.bench_soak import RecoveryStack, wait_job
from benchmarks.machine import cpu_line
from taskkit import Kit, Settings

BATCH = 20
LEAK_GROWTH = 0.10


def rss_mb(pid: int) -> float:
    """Resident set size of `pid` in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def worker_pids(url: str) -> list[int]:
    return [int(p) for p in httpx.get(url + "/healthz", timeout=10).json()["worker_pids"]]


def main(argv: list[str] | None = None) -> int:
    from benchmarks.bench_soak import song
    from singer_tasks.jobs import transitions as jobs
    from singer_tasks.kit import RENDER_TASK, RENDER_TOPIC, render_task_id
    from singer_tasks.settings import SingerSettings

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_memory", description=__doc__)
    parser.add_argument("--renders", type=int, default=200)
    parser.add_argument("--bars", type=int, default=2, help="bars per song (two bars are one phrase)")
    args = parser.parse_args(argv or [])
    data_dir = Path(tempfile.mkdtemp(prefix="bench-memory-")) / "data"
    stack = RecoveryStack(data_dir, workers=1)
    client = Kit("memory-client", settings=Settings(backend="local", data_dir=data_dir))
    settings = SingerSettings(default_credits=10**6, max_jobs_in_flight=10**4)
    print(f"CPU: {cpu_line()}; one worker, built-in voice, {args.bars}-bar songs")
    series: list[tuple[int, float]] = []
    statuses: dict[str, int] = {}
    try:
        stack.start()
        url = stack.url
        pid = worker_pids(url)[0]
        print(f"worker pid {pid}: {rss_mb(pid):.1f} MB before the first render")
        started = time.perf_counter()
        for batch in range(0, args.renders, BATCH):
            ids = []
            for n in range(batch, min(args.renders, batch + BATCH)):
                key = f"uploads/memory/song-{n}.musicxml"
                client.blobs.put(key, song(args.bars, 10_000 + n), content_type="application/xml")
                request = jobs.JobRequest(
                    uid="memory", input_path=key, render_type="final", voice="builtin", language=None
                )
                job = jobs.create_job(client.documents, request, settings)
                client.send_task(RENDER_TASK, {"job_id": job.id}, task_id=render_task_id(job.id), topic=RENDER_TOPIC)
                ids.append(job.id)
            for job_id in ids:
                status, _ = wait_job(client, job_id)
                statuses[status] = statuses.get(status, 0) + 1
            now_pid = worker_pids(url)[0]
            if now_pid != pid:
                print(f"the worker restarted (pid {pid} -> {now_pid}): the series below mixes two processes")
                pid = now_pid
            done = batch + len(ids)
            series.append((done, rss_mb(pid)))
            print(f"after {done:>4} renders: RSS {series[-1][1]:.1f} MB ({time.perf_counter() - started:.0f} s)")
    finally:
        stack.stop()
        client.close()
    print("jobs: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    if len(series) < 2:
        return 0
    first, last = series[0][1], series[-1][1]
    growth = (last - first) / first
    peak = max(v for _, v in series)
    print(
        f"RSS after the first {series[0][0]}: {first:.1f} MB; after {series[-1][0]}: {last:.1f} MB "
        f"({growth:+.1%}; peak {peak:.1f} MB); a leak is growth above {LEAK_GROWTH:.0%}"
    )
    return 1 if growth > LEAK_GROWTH else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
