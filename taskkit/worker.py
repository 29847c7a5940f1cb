"""The worker's HTTP face: push and dead-letter endpoints, the sweep trigger, health, and shutdown.

Run it with `python -m taskkit worker` (Cloud Run, or one process of the embedded stack). The
endpoints are sync handlers so a task runs on a thread of its own while the event loop stays free
for health checks and signals.
"""

from __future__ import annotations

import os
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
from taskkit.errors import PushAuthError
from taskkit.executor import Delivery, Executor
from taskkit.logging import bind_request_trace
from taskkit.outcome import Answer, http_status

log = structlog.get_logger("taskkit.worker")
PUSH_PATH = "/_taskkit/push"
DEAD_LETTER_PATH = "/_taskkit/dead-letter"
SWEEP_PATH = "/_taskkit/sweep"
EXIT_PAST_GRACE = 75  # EX_TEMPFAIL: the supervisor (or Cloud Run) starts a fresh process

PushVerifier = Callable[[str | None], None]


def build_push_verifier(kit: Kit) -> PushVerifier | None:
    """The OIDC check for push requests when the settings turn it on, else None."""
    settings = kit.settings
    if not settings.push_auth_enabled:
        return None
    from taskkit.backends.gcp.tokens import OidcPushVerifier
    from taskkit.settings import require

    verifier = OidcPushVerifier(
        audience=require(settings.push_audience, "TASKKIT_PUSH_AUDIENCE"),
        service_account_email=require(settings.push_service_account, "TASKKIT_PUSH_SERVICE_ACCOUNT"),
    )
    verify: PushVerifier = verifier.verify
    return verify


def _response(delivery: Delivery) -> Response:
    status = http_status(delivery.answer)
    headers = {}
    if delivery.retry_after_s is not None and status >= 300:
        headers["Retry-After"] = str(max(1, int(delivery.retry_after_s)))
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
        verify(request.headers.get("authorization"))
    except PushAuthError as e:
        log.warning("push.unauthorized", error=str(e))
        return Response(str(e), status_code=http_status(Answer.UNAUTHORIZED), media_type="text/plain")
    return None


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
        denied = _check_push_auth(verify, request)
        if denied is not None:
            return denied
        body = await request.body()
        return _response(await run_in_threadpool(handle, body))

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


def serve_worker(kit: Kit, *, host: str, port: int) -> None:
    """Serve the worker app until SIGTERM/SIGINT (blocking)."""
    executor = Executor(kit)
    app = create_worker_app(kit, executor)
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, timeout_graceful_shutdown=8)
    WorkerServer(config, executor).run()
