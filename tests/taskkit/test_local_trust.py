"""Trust on the embedded stack: only the supervisor's dispatcher may call a worker's push, dead-letter
and sweep endpoints (a secret random per stack start, given to the workers in their environment), the
data folder and its signing key are private to their owner, and push auth follows explicit settings."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog

from taskkit import Kit, Settings
from taskkit.backends.local.dispatcher import WORKER_SECRET_HEADER, LocalDispatcher
from taskkit.backends.local.keys import signing_key
from taskkit.executor import DEAD_LETTERS
from taskkit.logging import DropQueryStrings, configure_logging
from taskkit.message import TaskMessage
from taskkit.supervisor import Supervisor, subscriptions_for
from taskkit.worker import DEAD_LETTER_PATH, MAX_PUSH_BODY_BYTES, PUSH_PATH, SWEEP_PATH, create_worker_app
from tests.taskkit.apps import make_kit, runs
from tests.taskkit.conftest import FAST, LiveServer, Stack, push_body, wait_for

SECRET = "s3cret-for-this-test"


@pytest.fixture
def secret_kit(tmp_path: Path) -> Iterator[Kit]:
    k = make_kit(Settings(backend="local", data_dir=tmp_path / "data", worker_secret=SECRET, **FAST))  # type: ignore[arg-type]
    yield k
    k.close()


@pytest.fixture
def secret_worker(secret_kit: Kit) -> Iterator[LiveServer]:
    with LiveServer(create_worker_app(secret_kit, watchdog=False)) as server:
        yield server


def _post(url: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(url, content=body, headers={"content-type": "application/json", **headers}, timeout=30)


@pytest.mark.parametrize("path", [PUSH_PATH, DEAD_LETTER_PATH, SWEEP_PATH])
@pytest.mark.parametrize("given", [None, "", "wrong", SECRET + "x"])
def test_worker_endpoints_refuse_callers_without_the_secret(
    secret_kit: Kit, secret_worker: LiveServer, path: str, given: str | None
) -> None:
    headers = {} if given is None else {WORKER_SECRET_HEADER: given}
    answer = _post(secret_worker.url + path, push_body(TaskMessage("record", "r1", {"value": "v"})), **headers)
    assert answer.status_code == 401, answer.text
    assert runs(secret_kit, "r1") == []  # nothing ran
    assert secret_kit.leases.get("r1") is None  # nothing was recorded
    assert secret_kit.documents.query(DEAD_LETTERS) == []


def test_worker_endpoints_serve_the_secret_holder(secret_kit: Kit, secret_worker: LiveServer) -> None:
    holder = {WORKER_SECRET_HEADER: SECRET}
    answer = _post(secret_worker.url + PUSH_PATH, push_body(TaskMessage("record", "r1", {"value": "v"})), **holder)
    assert answer.status_code == 200, answer.text
    assert len(runs(secret_kit, "r1")) == 1
    assert _post(secret_worker.url + SWEEP_PATH, b"", **holder).status_code == 200


def test_the_dispatcher_carries_the_secret(secret_kit: Kit, secret_worker: LiveServer) -> None:
    secret_kit.send_task("record", {"value": "v"}, task_id="d1")
    secret_kit.broker  # noqa: B018 - creates the queue file
    subs = subscriptions_for(secret_kit.settings, secret_kit.topics(), [secret_worker.url])
    assert all(s.secret == SECRET for s in subs) and SECRET not in repr(subs)
    dispatcher = LocalDispatcher(secret_kit.settings.data_dir / "broker.sqlite3", subs)
    dispatcher.start()
    try:
        wait_for(lambda: runs(secret_kit, "d1"), what="the dispatched task to run")
    finally:
        dispatcher.stop()


def test_push_bodies_are_bounded(secret_worker: LiveServer) -> None:
    big = MAX_PUSH_BODY_BYTES + 1
    answer = httpx.post(
        secret_worker.url + PUSH_PATH,
        content=b"x" * big,
        headers={WORKER_SECRET_HEADER: SECRET, "content-type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 413


def test_supervisor_gives_each_stack_a_fresh_secret_in_the_worker_environment(tmp_path: Path) -> None:
    settings = Settings(backend="local", data_dir=tmp_path / "data")
    first = Supervisor("tests.taskkit.apps:kit", settings=settings)
    second = Supervisor("tests.taskkit.apps:kit", settings=settings)
    env = first.worker_env(0)
    assert env["TASKKIT_WORKER_SECRET"] == first.settings.worker_secret
    assert len(env["TASKKIT_WORKER_SECRET"]) >= 32
    assert first.settings.worker_secret != second.settings.worker_secret
    assert "TASKKIT_WORKER_SECRET" not in os.environ  # not in the supervising process (web app) environment
    assert Settings.from_env(env).worker_secret == first.settings.worker_secret


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_signing_key_is_private_in_a_private_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = signing_key(data)
    assert len(key) == 64
    assert _mode(data) == 0o700 and _mode(data / "signing.key") == 0o600
    assert signing_key(data) == key  # the same key on every call


def test_a_readable_folder_and_key_left_by_older_versions_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "old"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "signing.key").write_text("ab" * 32)
    (data / "signing.key").chmod(0o644)
    assert signing_key(data) == b"ab" * 32
    assert _mode(data) == 0o700 and _mode(data / "signing.key") == 0o600


def _worker_ports(supervisor_pid: int) -> list[int]:
    """Loopback ports of the supervisor's worker processes (from their command lines)."""
    ports = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == supervisor_pid and b"worker" in argv and b"--port" in argv:
            ports.append(int(argv[argv.index(b"--port") + 1]))
    return ports


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc")
def test_real_stack_workers_refuse_other_local_processes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stack = Stack(data, workers=1).start()
    try:
        assert stack.process is not None
        ports = wait_for(lambda: _worker_ports(stack.process.pid), what="the worker process")  # type: ignore[union-attr]
        kit = make_kit(Settings(backend="local", data_dir=data, **FAST))  # type: ignore[arg-type]
        try:
            # Another process on the machine posts a task straight to the worker: refused, never run.
            forged = push_body(TaskMessage("record", "forged", {"value": "v"}))
            answer = _post(f"http://127.0.0.1:{ports[0]}{PUSH_PATH}", forged)
            assert answer.status_code == 401
            assert _post(f"http://127.0.0.1:{ports[0]}{SWEEP_PATH}", b"").status_code == 401
            # The stack's own dispatcher still delivers.
            kit.send_task("record", {"value": "v"}, task_id="honest")
            wait_for(lambda: runs(kit, "honest"), what="the dispatched task to run")
            assert runs(kit, "forged") == []
        finally:
            kit.close()
        assert _mode(data) == 0o700 and _mode(data / "signing.key") == 0o600
    finally:
        stack.stop()


def test_push_auth_is_logged_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json_output=True, level="INFO")
    try:
        for settings, mode in (
            (Settings(backend="local", data_dir=tmp_path / "a", worker_secret=SECRET), "worker-secret"),
            (Settings(backend="local", data_dir=tmp_path / "b"), "off"),
            (Settings(backend="gcp", project="p", push_auth=False), "off"),
        ):
            kit = make_kit(settings)
            create_worker_app(kit, watchdog=False)
            kit.close()
            assert f'"mode": "{mode}"' in capsys.readouterr().err
    finally:
        structlog.reset_defaults()


def test_access_logs_drop_query_strings() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/v1/events?ticket=alice.1.2.abc", "1.1", 200), None,
    )  # fmt: skip
    assert DropQueryStrings().filter(record)
    assert "ticket=" not in record.getMessage() and "/v1/events?[redacted]" in record.getMessage()
    configure_logging()
    assert any(isinstance(f, DropQueryStrings) for f in logging.getLogger("uvicorn.access").filters)
