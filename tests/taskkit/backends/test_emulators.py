"""The emulator helpers: skip without a binary on a laptop, fail without one in CI, clean up process groups."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.emulators import missing, stop_group
from tests.taskkit.backends.concurrency import wait_for


def test_missing_service_skips_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="fake service"):
        missing("fake service")


def test_missing_service_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the emulator tests"):
        missing("fake service")


def test_stop_group_kills_children_that_ignore_the_parent() -> None:
    # A parent that starts a child and waits, as the emulator start scripts do with their Java process.
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(child.pid, flush=True)\n"
        "child.wait()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    os.kill(child, 0)  # the child runs
    stop_group(proc)
    assert proc.returncode is not None
    assert wait_for(lambda: not running(child), 5.0), "the child died with its parent's group"


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie awaiting its reaper is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
