"""Fixtures for taskkit tests on the local family: fast timings, real HTTP workers, a dispatcher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from taskkit import Kit, Settings
from taskkit.backends.local.dispatcher import LocalDispatcher
from taskkit.envelope import encode_envelope
from taskkit.message import TaskMessage
from taskkit.supervisor import free_port, subscriptions_for, wait_until_healthy
from taskkit.worker import create_worker_app
from tests.taskkit.apps import make_kit

REPO = Path(__file__).resolve().parents[2]

FAST = {
    "ack_deadline_s": 30,
    "max_delivery_attempts": 20,
    "min_backoff_s": 0.05,
    "max_backoff_s": 2.0,
    "deadline_margin_s": 1.0,
    "grace_s": 1.0,
    "lease_ttl_s": 3.0,  # renewed every second by the heartbeat; a dead worker's task is free within 3 s
}


def fast_env(data_dir: Path, **overrides: Any) -> dict[str, str]:
    """Environment for subprocesses with the same fast timings."""
    env = dict(os.environ)
    env.update({f"TASKKIT_{k.upper()}": str(v) for k, v in {**FAST, **overrides}.items()})
    env.update({"TASKKIT_BACKEND": "local", "TASKKIT_DATA_DIR": str(data_dir), "TASKKIT_LOG_LEVEL": "WARNING"})
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(backend="local", data_dir=tmp_path / "data", **FAST)  # type: ignore[arg-type]


@pytest.fixture
def kit(settings: Settings) -> Iterator[Kit]:
    k = make_kit(settings)
    yield k
    k.close()


class LiveServer:
    """A uvicorn server on a loopback port, in a thread of the test process."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None, access_log=False)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_until_healthy(self.url + "/healthz", alive=self.thread.is_alive, timeout_s=20)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def worker(kit: Kit) -> Iterator[LiveServer]:
    """The kit's worker app served over real HTTP (in-process, so tasks share the test's memory)."""
    with LiveServer(create_worker_app(kit, watchdog=False)) as server:
        yield server


def push_body(message: TaskMessage, attempt: int | None = 1, message_id: str = "m-1") -> bytes:
    return encode_envelope(
        message.encode(),
        message.attributes(),
        message_id=message_id,
        subscription="projects/p/subscriptions/s",
        publish_time=time.time(),
        delivery_attempt=attempt,
    )


@dataclass
class Dispatching:
    dispatcher: LocalDispatcher

    def wait_idle(self, timeout_s: float = 30.0) -> dict[str, int]:
        """Wait until nothing is ready or in flight; returns delivery counts by state."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            counts = self.dispatcher.counts()
            if counts and not counts.get("ready") and not counts.get("inflight"):
                return counts
            time.sleep(0.05)
        raise AssertionError(f"deliveries still pending after {timeout_s} s: {self.dispatcher.counts()}")


@pytest.fixture
def dispatch(kit: Kit) -> Iterator[Callable[[list[str]], Dispatching]]:
    """Start a dispatcher pushing the kit's topics to the given worker URLs."""
    started: list[LocalDispatcher] = []

    def start(worker_urls: list[str]) -> Dispatching:
        kit.broker  # noqa: B018 - creates the queue file
        subs = subscriptions_for(kit.settings, kit.topics(), worker_urls)
        d = LocalDispatcher(kit.settings.data_dir / "broker.sqlite3", subs)
        d.start()
        started.append(d)
        return Dispatching(d)

    yield start
    for d in started:
        d.stop()


def wait_for(predicate: Callable[[], Any], timeout_s: float = 30.0, what: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; returns its value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Stack:
    """`python -m taskkit run` as a subprocess in its own process group."""

    def __init__(
        self,
        data_dir: Path,
        workers: int = 1,
        *,
        app: str = "tests.taskkit.apps:kit",
        web: str = "",
        env: dict[str, str] | None = None,
        **overrides: Any,
    ) -> None:
        self.port = free_port()
        self.env = fast_env(data_dir, **overrides) | (env or {})
        self.workers = workers
        self.app, self.web = app, web
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Stack:
        cmd = [sys.executable, "-m", "taskkit", "run", "--app", self.app, "--web", self.web]
        cmd += ["--port", str(self.port), "--workers", str(self.workers)]
        self.process = subprocess.Popen(cmd, env=self.env, cwd=REPO, start_new_session=True)
        wait_until_healthy(f"http://127.0.0.1:{self.port}/healthz", alive=lambda: self.process.poll() is None)
        return self

    def kill(self) -> None:
        """SIGKILL the whole stack (supervisor and workers), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5).json())


class Respawning:
    """Keeps one worker process alive on a fixed port, as Cloud Run keeps an instance available."""

    def __init__(self, cmd: list[str], env: dict[str, str]) -> None:
        self.cmd, self.env, self.starts = cmd, env, 0
        self.proc = self._start()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        return subprocess.Popen(self.cmd, env=self.env, cwd=REPO)

    def _watch(self) -> None:
        while not self._stop.wait(0.05):
            if self.proc.poll() is not None:
                self.proc = self._start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.proc.terminate()
        self.proc.wait(10)
