"""Small helpers for tests that race threads or wait for asynchronous callbacks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def wait_for(predicate: Callable[[], bool], timeout_s: float = 15.0) -> bool:
    """Poll `predicate` until it holds or the time runs out; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def race(workers: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(0..workers-1) in threads released at the same moment; returns results or exceptions."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as e:
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
