"""The API's request logs in Cloud Logging's shape, and unexpected errors in Error Reporting's.

`configure_logging` (taskkit/logging.py) makes every line JSON on Cloud Run. On top of it:

- `AccessLog` (outermost middleware) binds the request's trace (X-Cloud-Trace-Context, else W3C
  traceparent) to every line written while the request runs, then writes ONE `http.request` line
  with Cloud Logging's `httpRequest` (method, path, status, latency, user agent, remote IP, response
  size). Cloud Run moves `httpRequest` into the log entry, so log-based metrics filter on
  `httpRequest.status` (terraform/monitoring.tf). uvicorn's own access log is turned off: it would
  repeat each request without the trace.
- `UnhandledErrors` (innermost middleware, inside CORS so the browser can read the answer) turns an
  exception nothing else handled into a 500 Problem and writes one `http.unhandled_error` line in
  Error Reporting's shape: `@type` ReportedErrorEvent, the traceback in `message` and `stack_trace`,
  `serviceContext` {service, version} and `context.httpRequest`. It does not re-raise, so neither
  Starlette nor uvicorn prints the traceback a second time.

Never logged: headers (Authorization, cookies), query strings (an event-stream ticket, a signed
URL's signature live there) and bodies. `requestUrl` is the path alone.
"""

from __future__ import annotations

import importlib.metadata
import logging
import time
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.schemas import Problem
from taskkit.logging import bind_request_trace

log = structlog.get_logger("api.http")

ACCESS_EVENT = "http.request"
ERROR_EVENT = "http.unhandled_error"
PACKAGE = "ai-singer"


@dataclass(frozen=True)
class ServiceContext:
    """Who reports an error to Error Reporting: the service and its version (errors group by both)."""

    service: str
    version: str

    def as_dict(self) -> dict[str, str]:
        """Error Reporting's `serviceContext`."""
        return {"service": self.service, "version": self.version}


def request_path(scope: Scope) -> str:
    """The request's path without its query string (which may hold a credential)."""
    return str(scope.get("root_path", "")) + str(scope.get("path", ""))


def remote_ip(scope: Scope) -> str | None:
    """The client address uvicorn resolved (from X-Forwarded-For behind Cloud Run's proxy)."""
    client = scope.get("client")
    return str(client[0]) if client else None


def severity_of(status: int) -> str:
    """INFO for answers that went well, WARNING for the caller's mistakes, ERROR for ours."""
    if status >= 500:
        return "error"
    if status >= 400:
        return "warning"
    return "info"


def http_request(scope: Scope, *, status: int, latency_s: float, response_size: int) -> dict[str, Any]:
    """Cloud Logging's `httpRequest` for one answered request."""
    headers = Headers(scope=scope)
    fields: dict[str, Any] = {
        "requestMethod": scope.get("method", ""),
        "requestUrl": request_path(scope),
        "status": status,
        "latency": f"{latency_s:.6f}s",
        "responseSize": str(response_size),
        "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
    }
    if user_agent := headers.get("user-agent"):
        fields["userAgent"] = user_agent
    if ip := remote_ip(scope):
        fields["remoteIp"] = ip
    return fields


def error_context(scope: Scope, status: int) -> dict[str, Any]:
    """Error Reporting's `context.httpRequest` (its own field names, not Cloud Logging's)."""
    headers = Headers(scope=scope)
    context: dict[str, Any] = {
        "method": scope.get("method", ""),
        "url": request_path(scope),
        "responseStatusCode": status,
    }
    if user_agent := headers.get("user-agent"):
        context["userAgent"] = user_agent
    if ip := remote_ip(scope):
        context["remoteIp"] = ip
    return {"httpRequest": context}


def quiet_server_access_log() -> None:
    """Turn uvicorn's access log off: `AccessLog` writes the one line per request.

    `uvicorn --no-access-log` (deploy/api.Dockerfile) does the same for the image; this covers every
    other way the app is served (the embedded stack's supervisor, a plain `uvicorn` command).
    """
    logging.getLogger("uvicorn.access").disabled = True


class AccessLog:
    """Outermost middleware: the request's trace on every line, then one `http.request` line."""

    def __init__(self, app: ASGIApp, *, project: str | None) -> None:
        self.app = app
        self.project = project

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        started = time.perf_counter()
        status = 500  # what the client sees if the app ends without answering
        size = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        with bind_request_trace(headers.get("x-cloud-trace-context"), self.project, headers.get("traceparent")):
            try:
                await self.app(scope, receive, counting_send)
            finally:
                latency_s = time.perf_counter() - started
                request = http_request(scope, status=status, latency_s=latency_s, response_size=size)
                getattr(log, severity_of(status))(ACCESS_EVENT, httpRequest=request)


class UnhandledErrors:
    """Innermost middleware: an exception no handler took becomes a 500 Problem and one error report."""

    def __init__(self, app: ASGIApp, *, service: ServiceContext) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception(ERROR_EVENT, serviceContext=self.service.as_dict(), context=error_context(scope, 500))
            if started:
                # Half an answer is out: nothing valid can follow; ending here closes the connection.
                return
            problem = Problem(detail="internal error", code="internal")
            await JSONResponse(problem.model_dump(), status_code=500)(scope, receive, send)


def service_context(cloud_run_service: str | None) -> ServiceContext:
    """The API's Error Reporting identity: Cloud Run's service name (K_SERVICE, else `api`) and the
    installed package's version."""
    try:
        version = importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        version = "unknown"
    return ServiceContext(service=cloud_run_service or "api", version=version)
