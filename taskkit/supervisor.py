"""The embedded stack: one supervising process and N worker processes on loopback.

The supervising process runs the local push dispatcher and the web app (the application's API and
SPA if configured, plus the routes serving local signed URLs) and imports no task code; each worker
is a separate `python -m taskkit worker` process with concurrency 1, so a long task never stalls the
API and a killed worker takes nothing else with it. Dead workers are restarted, after the supervisor
has released the leases they held. Stopping the supervisor in any way stops its workers
(taskkit/lifecycle.py; docs/push-contract.md, "Stopping the embedded stack").

On a schedule (TASKKIT_SWEEP_INTERVAL_S, at start and then every 5 minutes by default) the supervisor
does what Cloud Scheduler and the storage services do in production: it asks a worker to run the
sweep (`POST /_taskkit/sweep`: complete chords fired, the application's reconcilers, such as the
republishing of jobs whose publish was lost) and deletes expired records (backends/local/cleanup.py).
"""

from __future__ import annotations

import importlib
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import structlog
import uvicorn
from fastapi import FastAPI

from taskkit.app import Kit
from taskkit.backends.local.blob_routes import create_blob_router
from taskkit.backends.local.blobs import LocalBlobStore
from taskkit.backends.local.cleanup import CleanupReport, housekeeping
from taskkit.backends.local.dispatcher import WORKER_SECRET_HEADER, LocalDispatcher, Subscription
from taskkit.backends.local.documents import LocalDocumentStore
from taskkit.backends.local.keys import signing_key
from taskkit.cpus import cpu_quota
from taskkit.errors import ConfigError
from taskkit.lifecycle import SUPERVISOR_PID_VARIABLE, StopSignal, StopSignals, release_owner_leases, stop_processes
from taskkit.logging import scrub_access_log
from taskkit.settings import Settings
from taskkit.worker import DEAD_LETTER_PATH, PUSH_PATH, SWEEP_PATH

log = structlog.get_logger("taskkit.supervisor")
QUICK_DEATH_S = 2.0  # a worker dying sooner than this after its start is restarted with backoff


def load_object(ref: str) -> Any:
    """Import `package.module:attribute`; ConfigError with the reason if it fails."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{ref!r} is not 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"cannot import {module_name!r} (from {ref!r}): {e}") from e
    try:
        return getattr(module, attr)
    except AttributeError as e:
        raise ConfigError(f"{module_name!r} has no attribute {attr!r}") from e


def load_kit(ref: str) -> Kit:
    """The Kit named by `ref`."""
    kit = load_object(ref)
    if not isinstance(kit, Kit):
        raise ConfigError(f"{ref!r} is a {type(kit).__name__}, not a taskkit.Kit")
    return kit


def project_config(root: Path | None = None) -> dict[str, Any]:
    """`[tool.taskkit]` of the pyproject.toml in `root` (the working directory by default)."""
    path = (root or Path.cwd()) / "pyproject.toml"
    if not path.is_file():
        return {}
    with path.open("rb") as f:
        return dict(tomllib.load(f).get("tool", {}).get("taskkit", {}))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def subscriptions_for(settings: Settings, topics: list[str], worker_urls: list[str]) -> list[Subscription]:
    """Push and dead-letter subscriptions for every topic, on the given workers."""
    subs = []
    for topic in topics:
        dead = settings.dead_letter_topic(topic)
        common: dict[str, Any] = {
            "ack_deadline_s": float(settings.ack_deadline_s),
            "min_backoff_s": settings.min_backoff_s,
            "max_backoff_s": settings.max_backoff_s,
            "max_delivery_attempts": settings.max_delivery_attempts,
            "secret": settings.worker_secret,
        }
        subs.append(
            Subscription(
                f"{topic}-push", topic, tuple(u + PUSH_PATH for u in worker_urls), dead_letter_topic=dead, **common
            )
        )
        subs.append(Subscription(f"{dead}-push", dead, tuple(u + DEAD_LETTER_PATH for u in worker_urls), **common))
    return subs


@dataclass
class WorkerProcess:
    """One supervised worker process."""

    index: int
    port: int
    env: dict[str, str]
    app_ref: str
    # What runs the worker: `python <command> --app REF --port P` (a benchmark may run a wrapped worker).
    command: tuple[str, ...] = ("-m", "taskkit", "worker")
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    # Restarts in a row of a process that died soon after starting (the restart backoff grows with it).
    crash_streak: int = 0
    started_at: float = field(default=0.0)
    # The lease owner id of the current process (TASKKIT_OWNER), fresh for every start: after a restart
    # the dead process's leases (old owner) can be told apart from the new process's own.
    owner: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> None:
        cmd = [sys.executable, *self.command, "--app", self.app_ref, "--port", str(self.port)]
        self.owner = f"{socket.gethostname()}-{os.getpid()}-w{self.index}-{secrets.token_hex(4)}"
        env = self.env | {"TASKKIT_OWNER": self.owner, SUPERVISOR_PID_VARIABLE: str(os.getpid())}
        self.process = subprocess.Popen(cmd, env=env)
        self.started_at = time.monotonic()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        if self.process is not None:
            stop_processes([self.process], timeout_s)


class StackServer(uvicorn.Server):
    """uvicorn, telling the supervisor as soon as a signal asks it to exit.

    Why: on Ctrl-C the terminal signals the whole process group, workers included; they exit while
    uvicorn still drains here, and the supervisor must not mistake that for a crash and restart them.
    """

    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_exit = on_exit

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.on_exit()
        super().handle_exit(sig, frame)


class Supervisor:
    """Starts, watches and stops the embedded stack."""

    def __init__(
        self,
        app_ref: str,
        *,
        settings: Settings,
        workers: int = 1,
        host: str = "127.0.0.1",
        port: int = 8000,
        web_ref: str | None = None,
        worker_grace_s: float = 10.0,
        worker_command: tuple[str, ...] = ("-m", "taskkit", "worker"),
    ) -> None:
        if settings.backend != "local":
            raise ConfigError("the embedded stack runs the local backend family (TASKKIT_BACKEND=local)")
        if workers < 1:
            raise ConfigError("--workers must be at least 1")
        self.app_ref = app_ref
        self.web_ref = web_ref
        # A fresh secret per stack start, known to this process (the dispatcher sends it) and to the
        # workers (their environment): their push endpoints refuse anyone else on the machine.
        self.settings = settings.with_changes(
            data_dir=Path(settings.data_dir).resolve(), worker_secret=secrets.token_urlsafe(32)
        )
        # The data folder (documents, queue, blobs, signing key) is private to this user: 0700, key 0600.
        signing_key(self.settings.data_dir, self.settings.signing_secret)
        # The web app and the workers build their own Kits from the environment: make it say the same.
        os.environ.update(
            TASKKIT_BACKEND="local",
            TASKKIT_DATA_DIR=str(self.settings.data_dir),
            TASKKIT_PUBLIC_URL=self.settings.public_url,
        )
        # Never in this process's environment: the web app (and anything it starts) has no use for it.
        os.environ.pop("TASKKIT_WORKER_SECRET", None)
        self.host, self.port, self.worker_count = host, port, workers
        self.workers: list[WorkerProcess] = []
        self.worker_command = worker_command
        self.dispatcher: LocalDispatcher | None = None
        self.subscriptions: list[Subscription] = []
        # How long stopping workers get between SIGTERM (they release their leases) and SIGKILL.
        self.worker_grace_s = worker_grace_s
        self._stop = threading.Event()
        # Held while a worker is restarted and while stopping begins, so no worker starts after stop().
        self._lock = threading.Lock()
        # Where the supervisor releases the leases of workers that died; set by run() (or by the caller).
        self.kit: Kit | None = None
        # What the scheduled rounds did (the stack's health answer shows the counts).
        self.sweeps: list[dict[str, Any]] = []
        self.cleanups: list[CleanupReport] = []

    def worker_env(self, index: int) -> dict[str, str]:
        """Environment of worker `index`: the same settings, and its share of the CPUs."""
        env = dict(os.environ)
        env.update(
            {
                "TASKKIT_BACKEND": "local",
                "TASKKIT_DATA_DIR": str(self.settings.data_dir),
                "TASKKIT_PUBLIC_URL": self.settings.public_url,
                "TASKKIT_WORKER_INDEX": str(index),
                "TASKKIT_WORKER_CPUS": f"{max(1.0, cpu_quota() / self.worker_count):g}",
                "TASKKIT_WORKER_SECRET": self.settings.worker_secret or "",
            }
        )
        env.pop("TASKKIT_OWNER", None)
        return env

    def start_workers(self) -> None:
        """Start the workers, wait until they answer, then start dispatching to them.

        The topics to subscribe come from a worker's health answer, so this process never imports
        the application's task modules (and whatever heavy libraries they import).
        """
        for index in range(self.worker_count):
            worker = WorkerProcess(index, free_port(), self.worker_env(index), self.app_ref, self.worker_command)
            with self._lock:
                if self._stop.is_set():
                    return
                worker.start()
                self.workers.append(worker)
        for worker in self.workers:
            wait_until_healthy(worker.url + "/healthz", alive=worker.alive)
        topics = list(httpx.get(self.workers[0].url + "/healthz", timeout=10).json()["topics"])
        self.subscriptions = subscriptions_for(self.settings, topics, [w.url for w in self.workers])
        self.dispatcher = self.make_dispatcher(self.subscriptions)
        self.dispatcher.start()
        threading.Thread(target=self._watch_workers, name="taskkit-supervise", daemon=True).start()
        if self.settings.sweep_interval_s > 0:
            threading.Thread(target=self._schedule, name="taskkit-schedule", daemon=True).start()

    def make_dispatcher(self, subscriptions: list[Subscription]) -> LocalDispatcher:
        """The push dispatcher over the stack's queue (a subclass may wrap it: the soak injects faults)."""
        return LocalDispatcher(self.settings.data_dir / "broker.sqlite3", subscriptions)

    def restart_dispatcher(self) -> None:
        """Stop the dispatcher and start a fresh one on the same queue (as after a crash of this process:
        what was in flight is delivered again)."""
        with self._lock:
            if self.dispatcher is None or self._stop.is_set():
                return
            self.dispatcher.stop()
            self.dispatcher = self.make_dispatcher(self.subscriptions)
            self.dispatcher.start()

    def _schedule(self) -> None:
        # At start (a stack restarted after a crash catches up at once), then every interval.
        while not self._stop.is_set():
            try:
                self.scheduled_round()
            except Exception:  # the next round tries again
                log.exception("schedule.round_failed")
            if self._stop.wait(self.settings.sweep_interval_s):
                return

    def scheduled_round(self) -> None:
        """One round of the schedule: the sweep on a live worker, then the housekeeping here."""
        report = self.sweep_once()
        if report is not None:
            self.sweeps.append(report)
            del self.sweeps[:-10]
        if self.kit is not None:
            blobs = self.kit.blobs
            documents = self.kit.documents
            if isinstance(documents, LocalDocumentStore):
                cleanup = housekeeping(
                    self.settings.data_dir,
                    documents=documents,
                    blobs=blobs if isinstance(blobs, LocalBlobStore) else None,
                    retention_s=self.settings.record_retention_s,
                )
                self.cleanups.append(cleanup)
                del self.cleanups[:-10]

    def sweep_once(self) -> dict[str, Any] | None:
        """Ask the first live worker to sweep (it has the application's reconcilers); its report, or None."""
        live = [w for w in self.workers if w.alive()]
        if not live:
            return None
        headers = {WORKER_SECRET_HEADER: self.settings.worker_secret or ""}
        try:
            answer = httpx.post(live[0].url + SWEEP_PATH, headers=headers, timeout=float(self.settings.ack_deadline_s))
        except httpx.HTTPError as e:
            log.warning("sweep.unreachable", index=live[0].index, error=str(e))
            return None
        if answer.status_code != 200:
            log.warning("sweep.refused", index=live[0].index, status=answer.status_code, body=answer.text[:200])
            return None
        report: dict[str, Any] = answer.json()
        if report.get("chords_fired") or any(report.get("republished", {}).values()) or report.get("errors"):
            log.info("sweep.done", **report)
        return report

    def _watch_workers(self) -> None:
        # This thread lives as long as the supervisor on purpose: the workers it restarts have it as
        # their parent for PR_SET_PDEATHSIG, which fires when the forking *thread* exits.
        while not self._stop.wait(0.5):
            for worker in self.workers:
                if worker.alive() or self._stop.is_set():
                    continue
                try:
                    self._restart(worker)
                except Exception:  # keep watching the other workers; this one is retried next round
                    log.exception("worker.restart_failed", index=worker.index)

    def _restart(self, worker: WorkerProcess) -> None:
        """Release a dead worker's leases, then start it again (with backoff if it keeps dying)."""
        code = worker.process.returncode if worker.process else None
        log.warning("worker.exited", index=worker.index, code=code, restarts=worker.restarts)
        self.release_leases(worker, reason=f"worker {worker.index} exited (code {code})")
        # A process that ran a while before dying starts again at once (a crash mid-task must not delay
        # the restart); one that keeps dying within seconds of its start backs off, up to 5 s.
        lived_s = time.monotonic() - worker.started_at
        worker.crash_streak = worker.crash_streak + 1 if lived_s < QUICK_DEATH_S else 0
        if self._stop.wait(min(5.0, 0.1 * 2**worker.crash_streak) if worker.crash_streak else 0.0):
            return
        with self._lock:
            if self._stop.is_set():
                return
            worker.restarts += 1
            worker.start()

    def release_leases(self, worker: WorkerProcess, *, reason: str) -> list[str]:
        """Release the leases a dead worker process held, so their redelivery runs at once.

        Only for a process known to be gone (its owner id is never reused). A failure is logged: the
        leases then expire after their TTL as they would have without this.
        """
        if self.kit is None or not worker.owner:
            return []
        try:
            released = release_owner_leases(self.kit.documents, worker.owner, reason=reason)
        except Exception:
            log.exception("worker.lease_release_failed", index=worker.index, owner=worker.owner)
            return []
        if released:
            log.info("worker.leases_released", index=worker.index, owner=worker.owner, task_ids=released)
        return released

    def web_app(self, kit: Kit) -> FastAPI:
        """The supervising process's app: the configured web app (if any) plus local blob URLs."""
        if self.web_ref:
            factory = load_object(self.web_ref)
            app = factory if isinstance(factory, FastAPI) else factory()
            if not isinstance(app, FastAPI):
                raise ConfigError(f"{self.web_ref!r} did not give a FastAPI app")
        else:
            app = FastAPI(title="taskkit embedded stack")

            @app.get("/healthz")
            def healthz() -> dict[str, Any]:
                return {
                    "ok": True,
                    "workers": [w.alive() for w in self.workers],
                    "worker_pids": [w.pid for w in self.workers],
                    "worker_restarts": [w.restarts for w in self.workers],
                    "sweeps": len(self.sweeps),
                }

        blobs = kit.blobs
        serves_blobs = any(getattr(r, "path", "").startswith("/_blobs/") for r in app.routes)
        if isinstance(blobs, LocalBlobStore) and not serves_blobs:
            app.include_router(create_blob_router(blobs))
        return app

    def begin_stop(self) -> None:
        """Stop restarting workers (they may be exiting because the same signal reached them)."""
        with self._lock:
            self._stop.set()

    def stop(self) -> None:
        """Stop dispatching, then all workers at once: SIGTERM, then SIGKILL after the grace period.

        A worker that had to be killed could not release its leases itself: the supervisor does.
        """
        self.begin_stop()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        processes = {w.process: w for w in self.workers if w.process is not None}
        for process in stop_processes(processes, self.worker_grace_s):
            worker = processes[process]
            self.release_leases(worker, reason=f"worker {worker.index} killed after {self.worker_grace_s:g} s")
        log.info("stack.stopped", workers=len(processes))

    def run(self) -> int | None:
        """Run until SIGINT/SIGTERM/SIGHUP (blocking); always stops the workers before returning.

        Returns the number of the signal that stopped the stack, or None if uvicorn exited by itself.
        """
        kit = self.kit = Kit("embedded", settings=self.settings)
        signals = StopSignals()
        with signals.installed():
            try:
                self.start_workers()
                config = uvicorn.Config(self.web_app(kit), host=self.host, port=self.port, log_config=None)
                scrub_access_log()
                log.info("stack.ready", url=f"http://{self.host}:{self.port}", workers=self.worker_count)
                StackServer(config, on_exit=self.begin_stop).run()
            except StopSignal as e:
                log.info("stack.stopping", signal=e.signum)
            finally:
                signals.begin_stop()
                self.stop()
                kit.close()
        return signals.signum


def wait_until_healthy(url: str, *, alive: Callable[[], bool], timeout_s: float = 60.0) -> None:
    """Poll `url` until it answers 200; ConfigError if the process dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise ConfigError(f"worker behind {url} exited during start-up (see its log above)")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ConfigError(f"worker behind {url} did not become healthy in {timeout_s:g} s")
