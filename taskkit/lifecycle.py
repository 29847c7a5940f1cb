"""Process lifecycle of the embedded stack: stopping workers with their supervisor, and cleaning up after them.

Three guarantees (docs/push-contract.md, "Stopping the embedded stack"):

- however the supervisor stops (SIGTERM, SIGINT, SIGHUP), it stops its workers: SIGTERM first, so they
  release their leases, then SIGKILL after a grace period (`stop_processes`, `StopSignal`);
- a worker whose supervisor is gone exits on its own: the kernel sends it SIGTERM (Linux
  `PR_SET_PDEATHSIG`, `set_parent_death_signal`) and, everywhere, `OrphanGuard` notices its parent pid
  changed, starts the same graceful shutdown and exits hard if that does not finish in time;
- the supervisor releases the leases of a worker it saw die (`release_owner_leases`), so the
  redelivery of its task need not wait for the lease TTL.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import structlog

from taskkit.backends.base import DocumentStore, Transaction
from taskkit.lease import LEASES, lease_path

log = structlog.get_logger("taskkit.lifecycle")

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
EXIT_ORPHANED = 70  # EX_SOFTWARE: the worker's supervisor is gone and the graceful shutdown did not finish
SUPERVISOR_PID_VARIABLE = "TASKKIT_SUPERVISOR_PID"
HELD = ("running", "failing")  # the lease states in which an owner holds a task


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux only; False elsewhere).

    Called in the worker itself at start-up rather than in a `preexec_fn`, which is unsafe in the
    supervisor's multi-threaded process. Note the kernel's notion of "parent" is the *thread* that
    forked the child: the supervisor starts workers from threads that live as long as it does.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            log.warning("lifecycle.pdeathsig_failed", errno=ctypes.get_errno())
            return False
    except (OSError, AttributeError):
        return False
    return True


class OrphanGuard:
    """Exits a worker whose supervisor is gone: the portable fallback to (and backstop of) PDEATHSIG.

    Polls `os.getppid()` against the supervisor's pid: when a parent dies its children are re-parented
    (to init or a subreaper), so a different parent pid means the supervisor is gone. Then it calls
    `on_orphaned` once (the worker sends itself SIGTERM: the usual graceful path, leases released) and,
    if the process still runs `exit_after_s` later, exits hard so no orphan outlives its stack.
    """

    def __init__(
        self,
        supervisor_pid: int,
        on_orphaned: Callable[[], None],
        *,
        interval_s: float = 0.5,
        exit_after_s: float = 15.0,
        exit: Callable[[int], Any] = os._exit,
    ) -> None:
        self.supervisor_pid = supervisor_pid
        self.on_orphaned = on_orphaned
        self.interval_s = interval_s
        self.exit_after_s = exit_after_s
        self._exit = exit
        self._stop = threading.Event()

    def orphaned(self) -> bool:
        """Whether this process's parent is no longer the supervisor."""
        return os.getppid() != self.supervisor_pid

    def start(self) -> None:
        threading.Thread(target=self._run, name="taskkit-orphan-guard", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        # Checked once before the first wait: the supervisor may have died before PDEATHSIG was set.
        while not self.orphaned():
            if self._stop.wait(self.interval_s):
                return
        log.warning("worker.orphaned", supervisor_pid=self.supervisor_pid, parent_pid=os.getppid())
        try:
            self.on_orphaned()
        except Exception:  # the hard exit below still happens
            log.exception("worker.orphan_shutdown_failed")
        time.sleep(self.exit_after_s)
        log.critical("worker.orphan_exit", after_s=self.exit_after_s)
        self._exit(EXIT_ORPHANED)


def supervisor_pid_from(environ: dict[str, str] | os._Environ[str]) -> int | None:
    """The supervisor's pid given to a worker in its environment, if any (and valid)."""
    raw = environ.get(SUPERVISOR_PID_VARIABLE, "")
    return int(raw) if raw.isdigit() and int(raw) > 1 else None


def stop_processes(processes: Iterable[subprocess.Popen[bytes]], grace_s: float) -> list[subprocess.Popen[bytes]]:
    """SIGTERM every live process at once, wait up to `grace_s` for all, then SIGKILL the rest.

    All at once so N workers take one grace period, not N. Returns the processes that had to be killed.
    """
    live = [p for p in processes if p.poll() is None]
    for p in live:
        p.terminate()  # a process that exited meanwhile is no error (Popen checks)
    deadline = time.monotonic() + grace_s
    killed = []
    for p in live:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("worker.kill", pid=p.pid, grace_s=grace_s)
            p.kill()
            p.wait()
            killed.append(p)
    return killed


def release_owner_leases(
    store: DocumentStore, owner: str, *, reason: str, clock: Callable[[], float] = time.time
) -> list[str]:
    """Release every lease `owner` still holds (expiry now), for an owner known to be dead.

    Each release is a transaction that checks the lease still has this owner, the same fence and a
    held state: a task another worker took over meanwhile is left alone. The status stays as it was, so
    the next delivery takes the lease over with fence + 1 exactly as after a TTL expiry, only sooner.
    Returns the released task ids.
    """
    released = []
    for snap in store.query(LEASES, [("owner", "==", owner)]):
        if snap.data.get("status") not in HELD:
            continue
        task_id, fence = snap.id, snap.data.get("fence")

        def give_up(tx: Transaction, task_id: str = task_id, fence: Any = fence) -> bool:
            record = tx.get(lease_path(task_id))
            if record is None or record.get("owner") != owner or record.get("fence") != fence:
                return False
            if record.get("status") not in HELD:
                return False
            now = clock()
            tx.update(
                lease_path(task_id),
                {"lease_until": now, "updatedAt": now, "releasedAt": now, "releasedBy": "supervisor", "error": reason},
            )
            return True

        if store.transaction(give_up):
            released.append(task_id)
    return released


class StopSignal(BaseException):
    """Raised in the supervisor's main thread by SIGTERM/SIGHUP (and SIGINT), so `finally` blocks run.

    A BaseException like KeyboardInterrupt, so nothing that catches Exception swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


STOP_SIGNALS = tuple(
    s for s in (getattr(signal, n, None) for n in ("SIGTERM", "SIGINT", "SIGHUP")) if isinstance(s, signal.Signals)
)


class StopSignals:
    """While installed, the first of SIGTERM, SIGINT or SIGHUP raises StopSignal in the main thread.

    Why: uvicorn installs its own handlers while it serves and, once it has shut down, restores the
    previous ones and raises the signal again. With Python's default SIGTERM disposition that second
    delivery killed the supervisor outright, so its cleanup (stopping the workers) never ran. With this
    handler in place, the re-raised signal becomes StopSignal and unwinds through `finally`; a signal
    arriving before uvicorn serves (during start-up) does the same. Once stopping has begun, later
    signals are only logged: a process-group SIGTERM reaching the supervisor twice, or an impatient
    Ctrl-C, must not interrupt the cleanup (which is bounded by the workers' grace period anyway).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._stopping = False
        self._previous: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self._stopping:
            log.info("stack.signal_ignored", signal=signum, stopping_for=self.signum)
            return
        self._stopping = True
        self.signum = signum
        raise StopSignal(signum)

    def begin_stop(self) -> None:
        """From now on signals no longer raise (cleanup has begun)."""
        self._stopping = True

    @contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """Install the handlers for the block, then restore the previous ones."""
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handler)
        try:
            yield self
        finally:
            for signum, old in self._previous.items():
                signal.signal(signum, old)
