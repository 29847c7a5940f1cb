"""Worker warm-ups (`kit.on_worker_start`): they run once when a worker starts, on a thread of their own
so the worker answers health checks meanwhile, and one that raises does not stop the others or the
worker."""

from __future__ import annotations

import threading

import httpx

from taskkit import Kit, Settings
from taskkit.worker import create_worker_app
from tests.taskkit.conftest import LiveServer

DEADLINE_S = 120.0  # generous: the machine may be busy; nothing here waits this long when it works


def test_warmups_run_once_in_the_background_and_a_failing_one_is_skipped(settings: Settings) -> None:
    kit = Kit("warm", settings=settings)
    release, slow_started, slow_done = threading.Event(), threading.Event(), threading.Event()
    ran: list[Kit] = []

    @kit.on_worker_start
    def broken(k: Kit) -> None:
        raise RuntimeError("no such model")

    @kit.on_worker_start
    def slow(k: Kit) -> None:
        slow_started.set()
        assert release.wait(DEADLINE_S)
        ran.append(k)
        slow_done.set()

    try:
        with LiveServer(create_worker_app(kit, watchdog=False)) as server:
            assert slow_started.wait(DEADLINE_S)  # after `broken` raised
            # The worker serves while a warm-up is still running.
            assert httpx.get(f"{server.url}/healthz", timeout=DEADLINE_S).status_code == 200
            assert ran == []
            release.set()
            assert slow_done.wait(DEADLINE_S)
        assert ran == [kit]
    finally:
        release.set()
        kit.close()
