"""The API under load on the embedded stack (prints figures; exit status 1 on a 5xx or a data leak).

`--users` (default 200) concurrent users on one `python -m taskkit run` stack (the render service, the
API, one worker): three in four sign in, upload a score and create three jobs (most refused for credits,
402, or the in-flight cap, 429: each user starts with 25 credits and a preview reserves 20), then poll
their jobs; the others sign in, create one job and follow the event stream while polling. Every answer
is checked for other users' data: each job a user sees (list, get, events) must be one she created,
`GET /v1/me` must name her, and fetching another user's job must be a 404.

Prints p50/p99 latency per route, answers by status, 5xx (must be 0) and cross-user leaks (must be 0).
`python -m benchmarks load [--users N] [--seconds S]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.bench_soak import song
from benchmarks.machine import cpu_line
from taskkit.supervisor import free_port, wait_until_healthy

REPO = Path(__file__).resolve().parents[1]
SERVICE_ENV = {
    "SINGER_DEFAULT_CREDITS": "25",  # a preview reserves 20: one job in flight, then 402
    "SINGER_MAX_JOBS_IN_FLIGHT": "3",
    "TASKKIT_LOG_LEVEL": "ERROR",  # the API logs every 4xx (the refusals are the point here)
}


@dataclass
class LoadResult:
    """What the users saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)  # transport errors and 5xx, with the route
    leaks: list[str] = field(default_factory=list)  # another user's data seen
    created: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    events: int = 0

    def record(self, route: str, seconds: float, status: int) -> None:
        self.latencies[route].append(seconds)
        self.statuses[route][status] += 1
        if status >= 500:
            self.errors.append(f"{route}: {status}")

    @property
    def server_errors(self) -> int:
        return sum(n for c in self.statuses.values() for s, n in c.items() if s >= 500)


class User:
    """One simulated user with her own HTTP client."""

    def __init__(self, base: str, uid: str, client: httpx.AsyncClient, result: LoadResult) -> None:
        self.base, self.uid, self.client, self.result = base, uid, client, result
        self.headers: dict[str, str] = {}

    async def call(self, route: str, method: str, path: str, **kwargs: object) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await self.client.request(method, self.base + path, headers=self.headers, **kwargs)  # type: ignore[arg-type]
        except httpx.HTTPError as e:
            self.result.errors.append(f"{route}: {type(e).__name__}: {e}")
            return None
        self.result.record(route, time.perf_counter() - started, response.status_code)
        return response

    async def sign_in(self) -> bool:
        answer = await self.call("POST /v1/auth/local", "POST", "/v1/auth/local", json={"uid": self.uid})
        if answer is None or answer.status_code != 200:
            return False
        self.headers = {"Authorization": f"Bearer {answer.json()['token']}"}
        return True

    async def upload(self, seed: int) -> str | None:
        files = {"file": ("song.musicxml", song(2, seed), "application/octet-stream")}
        answer = await self.call("POST /v1/uploads", "POST", "/v1/uploads", files=files)
        return str(answer.json()["scoreId"]) if answer is not None and answer.status_code == 201 else None

    async def create_job(self, score_id: str, render_type: str) -> None:
        body = {"scoreId": score_id, "renderType": render_type}
        answer = await self.call("POST /v1/jobs", "POST", "/v1/jobs", json=body)
        if answer is not None and answer.status_code == 202:
            self.result.created[self.uid].add(str(answer.json()["id"]))

    def check_jobs(self, where: str, job_ids: list[str]) -> None:
        for job_id in job_ids:
            if job_id not in self.result.created[self.uid]:
                self.result.leaks.append(f"{self.uid} saw job {job_id} in {where}")

    async def poll(self, rounds: int, pause_s: float, stranger: Callable[[], str | None]) -> None:
        for _ in range(rounds):
            stranger_job = stranger()
            listing = await self.call("GET /v1/jobs", "GET", "/v1/jobs")
            if listing is not None and listing.status_code == 200:
                self.check_jobs("GET /v1/jobs", [j["id"] for j in listing.json()["jobs"]])
            for job_id in list(self.result.created[self.uid])[:1]:
                one = await self.call("GET /v1/jobs/{id}", "GET", f"/v1/jobs/{job_id}")
                if one is not None and one.status_code == 200:
                    self.check_jobs("GET /v1/jobs/{id}", [one.json()["id"]])
            me = await self.call("GET /v1/me", "GET", "/v1/me")
            if me is not None and me.status_code == 200 and me.json().get("uid") not in (None, self.uid):
                self.result.leaks.append(f"{self.uid} got /v1/me of {me.json().get('uid')}")
            if stranger_job is not None:
                other = await self.call("GET /v1/jobs/{id} (another's)", "GET", f"/v1/jobs/{stranger_job}")
                if other is not None and other.status_code != 404:
                    self.result.leaks.append(
                        f"{self.uid} fetched another user's job {stranger_job}: {other.status_code}"
                    )
            await asyncio.sleep(pause_s)

    async def follow_events(self, seconds: float) -> None:
        ticket = await self.call("POST /v1/events/ticket", "POST", "/v1/events/ticket")
        if ticket is None or ticket.status_code != 200:
            return
        started = time.perf_counter()
        try:
            async with self.client.stream("GET", self.base + str(ticket.json()["url"]), timeout=seconds + 30) as answer:
                self.result.record("GET /v1/events (headers)", time.perf_counter() - started, answer.status_code)
                async for line in answer.aiter_lines():
                    if line.startswith("data: "):
                        data = json.loads(line[6:])
                        self.result.events += 1
                        self.check_jobs("GET /v1/events", [str(data.get("id") or data.get("jobId"))])
                    if time.perf_counter() - started > seconds:
                        break
        except httpx.HTTPError as e:
            self.result.errors.append(f"GET /v1/events: {type(e).__name__}: {e}")


async def run_load(base: str, users: int, seconds: float, seed: int = 1) -> LoadResult:
    """`users` concurrent users against the API at `base` for about `seconds`."""
    result = LoadResult()
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=users * 2 + 10, max_keepalive_connections=users * 2)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        people = [User(base, f"load-{seed}-{i}", client, result) for i in range(users)]

        async def creator(user: User, index: int) -> None:
            if not await user.sign_in():
                return
            score = await user.upload(seed * 1000 + index)
            if score is None:
                return
            for render_type in ("preview", "preview", "final"):
                await user.create_job(score, render_type)
            neighbour = people[(index + 1) % users].uid

            def stranger() -> str | None:
                return next(iter(result.created[neighbour]), None)

            await user.poll(rounds=max(1, int(seconds / 2)), pause_s=rng.uniform(0.5, 1.5), stranger=stranger)

        async def watcher(user: User, index: int) -> None:
            if not await user.sign_in():
                return
            score = await user.upload(seed * 1000 + index)
            if score is not None:
                await user.create_job(score, "preview")
            await asyncio.gather(user.follow_events(seconds), user.poll(int(seconds / 3) or 1, 2.0, lambda: None))

        await asyncio.gather(*((watcher if i % 4 == 3 else creator)(user, i) for i, user in enumerate(people)))
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def print_result(result: LoadResult, users: int, wall_s: float) -> None:
    print(f"CPU: {cpu_line()}; {users} concurrent users, {wall_s:.1f} s")
    print(f"{'route':<36} {'calls':>6} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for route in sorted(result.latencies):
        values = result.latencies[route]
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(result.statuses[route].items()))
        print(
            f"{route:<36} {len(values):>6} {percentile(values, 0.5) * 1000:>8.0f} "
            f"{percentile(values, 0.99) * 1000:>8.0f}  {statuses}"
        )
    jobs = sum(len(v) for v in result.created.values())
    print(f"jobs accepted: {jobs}; events received: {result.events}")
    transport = len(result.errors) - result.server_errors
    print(f"5xx answers: {result.server_errors} (must be 0); transport errors: {transport}")
    print(f"another user's data seen: {len(result.leaks)} (must be 0)")
    for line in (result.errors + result.leaks)[:20]:
        print(f"  {line}")


class LoadStack:
    """`python -m taskkit run` with the render service and the API, in its own process group."""

    def __init__(self, data_dir: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.data_dir, self.workers = data_dir, workers
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoadStack:
        env = dict(os.environ, TASKKIT_BACKEND="local", TASKKIT_DATA_DIR=str(self.data_dir), PYTHONPATH=str(REPO))
        env |= SERVICE_ENV
        cmd = [sys.executable, "-m", "taskkit", "run", "--app", "singer_tasks.render.tasks:kit"]
        cmd += ["--web", "api.main:create_app", "--port", str(self.port), "--workers", str(self.workers)]
        self.process = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True)
        process = self.process
        wait_until_healthy(self.url + "/healthz", alive=lambda: process.poll() is None, timeout_s=180)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_load", description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long the pollers and streams last")
    args = parser.parse_args(argv or [])
    data_dir = Path(tempfile.mkdtemp(prefix="bench-load-")) / "data"
    with LoadStack(data_dir) as stack:
        started = time.perf_counter()
        result = asyncio.run(run_load(stack.url, args.users, args.seconds))
        wall = time.perf_counter() - started
    print_result(result, args.users, wall)
    return 1 if result.server_errors or result.leaks else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
