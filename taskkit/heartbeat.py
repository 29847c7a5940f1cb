"""The heartbeat that keeps a running attempt's lease alive.

A lease lives for a short TTL (TASKKIT_LEASE_TTL_S, 30 s by default) and a background thread renews it
every TTL / 3 while the task runs. A worker that dies stops renewing, so a redelivery takes the task
over within one TTL; a renewal that finds the lease taken over (fence changed) marks the attempt lost,
and the task stops at its next `check_time()` with LeaseLost (a stale attempt, never a failure).
"""

from __future__ import annotations

import threading

import structlog

from taskkit.errors import LeaseLost
from taskkit.lease import Lease, LeaseManager

log = structlog.get_logger("taskkit.heartbeat")


class Heartbeat:
    """Renews `lease` every `ttl_s / 3` seconds on a daemon thread until stopped or the lease is lost."""

    def __init__(self, leases: LeaseManager, lease: Lease, ttl_s: float) -> None:
        self.leases, self.lease, self.ttl_s = leases, lease, ttl_s
        self.interval_s = ttl_s / 3
        self.lost: str | None = None
        self.renewals = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{lease.task_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop renewing (the attempt ended); waits for a renewal in flight."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.leases.renew(self.lease, self.ttl_s)
                self.renewals += 1
            except LeaseLost as e:
                self.lost = str(e)
                log.warning("lease.lost", task_id=self.lease.task_id, fence=self.lease.fence, error=str(e))
                return
            except Exception:  # a store hiccup: the next beat tries again while the lease still lives
                log.exception("lease.renew_failed", task_id=self.lease.task_id)
