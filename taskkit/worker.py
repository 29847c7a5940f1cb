"""The worker's HTTP face: push and dead-letter endpoints, the sweep trigger, health, and shutdown.

Run it with `python -m taskkit worker` (Cloud Run, or one process of the embedded stack). The
endpoints are sync handlers so a task runs on a thread of its own while the event loop stays free
for health checks and signals.
"""

from __future__ import annotations

import hmac
import math
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from taskkit.app import Kit
from taskkit.backends.local.dispatcher import WORKER_SECRET_HEADER
from taskkit.errors import PushAuthError
from taskkit.executor import Delivery, Executor
from taskkit.lifecycle import OrphanGuard, set_parent_death_signal
from taskkit.logging import bind_request_trace
from taskkit.outcome import Answer, http_status

log = structlog.get_logger("taskkit.worker")
PUSH_PATH = "/_taskkit/push"
DEAD_LETTER_PATH = "/_taskkit/dead-letter"
SWEEP_PATH = "/_taskkit/sweep"
EXIT_PAST_GRACE = 75  # EX_TEMPFAIL: the supervisor (or Cloud Run) starts a fresh process

# Pub/Sub messages are at most 10 MB; base64 in the wrapped JSON body makes that about 13.4 MB.
MAX_PUSH_BODY_BYTES = 16 * 1024 * 1024

# Checks one request to the push, dead-letter or sweep endpoint; raises PushAuthError to refuse it.
PushVerifier = Callable[[Request], None]


def build_push_verifier(kit: Kit) -> PushVerifier | None:
    """The check for push, dead-letter and sweep requests: OIDC when push auth is on (gcp family),
    the stack's worker secret on the local family when one is set, else None (logged at start)."""
    settings = kit.settings
    if not settings.push_auth_enabled:
        if settings.backend == "local" and settings.worker_secret:
            log.info("worker.push_auth", mode="worker-secret")
            return _secret_verifier(settings.worker_secret)
        if settings.backend == "gcp":
            log.warning("worker.push_auth", mode="off", reason="TASKKIT_PUSH_AUTH=false: push requests are not checked")
        else:
            log.warning(
                "worker.push_auth",
                mode="off",
                reason="no TASKKIT_WORKER_SECRET: any local process may call the push endpoints "
                "(python -m taskkit run sets one)",
            )
        return None
    log.info("worker.push_auth", mode="oidc", audience=settings.push_audience)
    from taskkit.backends.gcp.tokens import OidcPushVerifier
    from taskkit.settings import require

    verifier = OidcPushVerifier(
        audience=require(settings.push_audience, "TASKKIT_PUSH_AUDIENCE"),
        service_account_email=require(settings.push_service_account, "TASKKIT_PUSH_SERVICE_ACCOUNT"),
    )

    def verify(request: Request) -> None:
        verifier.verify(request.headers.get("authorization"))

    return verify


def _secret_verifier(secret: str) -> PushVerifier:
    expected = secret.encode()

    def verify(request: Request) -> None:
        given = request.headers.get(WORKER_SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            raise PushAuthError(f"request without this stack's worker secret ({WORKER_SECRET_HEADER})")

    return verify


def _response(delivery: Delivery) -> Response:
    status = http_status(delivery.answer)
    headers = {}
    if delivery.retry_after_s is not None and status >= 300:
        # Rounded up: a redelivery at the given second finds the lease expired, not a fraction short.
        headers["Retry-After"] = str(max(1, math.ceil(delivery.retry_after_s)))
    return Response(
        content=f"{delivery.answer.value}: {delivery.detail}".strip(": "),
        status_code=status,
        media_type="text/plain",
        headers=headers,
    )


def _check_push_auth(verify: PushVerifier | None, request: Request) -> Response | None:
    """None if the request may proceed, else the 401 to answer (a nack: Pub/Sub retries it)."""
    if verify is None:
        return None
    try:
        verify(request)
    except PushAuthError as e:
        log.warning("push.unauthorized", error=str(e))
        return Response(str(e), status_code=http_status(Answer.UNAUTHORIZED), media_type="text/plain")
    return None


async def _bounded_body(request: Request, limit: int = MAX_PUSH_BODY_BYTES) -> bytes | None:
    """The request's body, or None once it (declared or streamed) passes `limit`; nothing more is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


async def _deliver(verify: PushVerifier | None, request: Request, handle: Callable[[bytes], Delivery]) -> Response:
    """Check the caller, read the body (bounded), then handle it on a thread of its own."""
    denied = _check_push_auth(verify, request)
    if denied is not None:
        return denied
    body = await _bounded_body(request)
    if body is None:
        return Response(f"push body over {MAX_PUSH_BODY_BYTES} bytes", status_code=413, media_type="text/plain")
    return _response(await run_in_threadpool(handle, body))


class Watchdog:
    """Exits the process when an attempt runs past its time limit plus the grace period.

    Tasks check their time cooperatively; one that does not (stuck in native code, say) must not
    outlive its lease, or another worker would run it at the same time.
    """

    def __init__(self, executor: Executor, grace_s: float, interval_s: float = 1.0) -> None:
        self.executor = executor
        self.grace_s = grace_s
        self.interval_s = interval_s
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name="taskkit-watchdog", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            now = time.monotonic()
            for ctx in list(self.executor.active.values()):
                if now > ctx.deadline + self.grace_s:
                    log.critical("worker.past_grace", task_id=ctx.task_id, limit_s=ctx.time_limit_s)
                    os._exit(EXIT_PAST_GRACE)


def run_warmups(kit: Kit) -> None:
    """Run the kit's warm-ups in order (on the worker's start-up thread); one that raises is logged and
    the next still runs: a warm-up only saves the first task some time."""
    for warmup in kit.warmups:
        started = time.monotonic()
        try:
            warmup(kit)
        except Exception:
            log.exception("worker.warmup_failed", warmup=getattr(warmup, "__qualname__", repr(warmup)))
            continue
        log.info("worker.warmed", warmup=getattr(warmup, "__qualname__", repr(warmup)),
                 seconds=round(time.monotonic() - started, 3))  # fmt: skip


def create_worker_app(kit: Kit, executor: Executor | None = None, *, watchdog: bool = True) -> FastAPI:
    """The worker's FastAPI app. Checks the timing configuration first and refuses to start if unsafe.

    `watchdog=False` leaves out the exit-past-grace guard (for tests serving tasks in-process).
    """
    kit.check_timing()
    executor = executor or Executor(kit)
    verify = build_push_verifier(kit)
    guard = Watchdog(executor, kit.settings.grace_s) if watchdog else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if guard is not None:
            guard.start()
        if kit.warmups:
            threading.Thread(target=run_warmups, args=(kit,), name="taskkit-warmup", daemon=True).start()
        yield
        if guard is not None:
            guard.stop()

    app = FastAPI(title=f"{kit.name} worker", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.executor = executor
    app.state.kit = kit

    @app.middleware("http")
    async def trace(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        with bind_request_trace(request.headers.get("x-cloud-trace-context"), kit.settings.project):
            return await call_next(request)

    async def deliver(request: Request, handle: Callable[[bytes], Delivery]) -> Response:
        return await _deliver(verify, request, handle)

    @app.post(PUSH_PATH)
    async def push(request: Request) -> Response:
        return await deliver(request, executor.handle_push)

    @app.post(DEAD_LETTER_PATH)
    async def dead_letter(request: Request) -> Response:
        return await deliver(request, executor.handle_dead_letter)

    @app.post(SWEEP_PATH)
    async def sweep(request: Request) -> Response:
        from taskkit.sweep import run_sweep

        denied = _check_push_auth(verify, request)
        if denied is not None:
            return denied
        report = await run_in_threadpool(run_sweep, kit)
        return JSONResponse(report.as_dict())

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        return {
            "ok": not executor.shutdown.is_set(),
            "tasks": sorted(kit.registry),
            "topics": kit.topics() or [kit.settings.default_topic],
            "active": len(executor.active),
        }

    return app


class WorkerServer(uvicorn.Server):
    """uvicorn, but SIGTERM first stops new deliveries and releases held leases."""

    def __init__(self, config: uvicorn.Config, executor: Executor) -> None:
        super().__init__(config)
        self.executor = executor

    def handle_exit(self, sig: int, frame: Any) -> None:
        if not self.executor.shutdown.is_set():
            log.info("worker.shutdown", signal=sig)
            threading.Thread(target=self.executor.begin_shutdown, name="taskkit-release", daemon=True).start()
        super().handle_exit(sig, frame)


GRACEFUL_SHUTDOWN_S = 8  # uvicorn's drain; Cloud Run kills 10 s after SIGTERM, the supervisor too


def serve_worker(kit: Kit, *, host: str, port: int, supervisor_pid: int | None = None) -> None:
    """Serve the worker app until SIGTERM/SIGINT (blocking).

    With `supervisor_pid` (a worker of the embedded stack), the worker also exits when that process is
    gone: the kernel sends it SIGTERM (Linux PR_SET_PDEATHSIG) and an OrphanGuard polling the parent pid
    does the same everywhere, then exits hard if the graceful shutdown has not finished in time.
    """
    executor = Executor(kit)
    app = create_worker_app(kit, executor)
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S
    )
    guard: OrphanGuard | None = None
    if supervisor_pid is not None:
        set_parent_death_signal(signal.SIGTERM)
        # SIGTERM to itself takes the usual path: stop taking deliveries, release leases, drain.
        guard = OrphanGuard(
            supervisor_pid,
            lambda: os.kill(os.getpid(), signal.SIGTERM),
            exit_after_s=GRACEFUL_SHUTDOWN_S + kit.settings.grace_s,
        )
        guard.start()
    try:
        WorkerServer(config, executor).run()
    finally:
        if guard is not None:
            guard.stop()
