"""The API app: wiring only. `create_app()` is what `[tool.taskkit] web` and Cloud Run serve."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware

from api.edge import EdgeGuard
from api.logs import AccessLog, UnhandledErrors, quiet_server_access_log, service_context
from api.routes import admin, auth, events, jobs, me, phrases, shares, uploads, voices
from api.schemas import Problem
from api.tokens import EventTickets, build_verifier
from singer_tasks.errors import SingerError
from singer_tasks.kit import kit
from singer_tasks.settings import SingerSettings, get_settings
from taskkit import Kit
from taskkit.backends.local.keys import signing_key
from taskkit.errors import AlreadyExists, BackendError, NotFound, TransientBackendError
from taskkit.logging import configure_logging

WEB_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"


def create_app(app_kit: Kit | None = None, settings: SingerSettings | None = None) -> FastAPI:
    """Build the API on the configured backends (nothing connects until first use)."""
    configure_logging()
    app_kit = app_kit or kit
    app = FastAPI(
        title="AI singer API",
        version="1.0.0",
        description="Upload a MusicXML score with lyrics; get it back sung by a DiffSinger voice.",
    )
    app.state.kit = app_kit
    service_settings = app.state.service_settings = settings or get_settings()
    app.state.verify_token, app.state.local_tokens = build_verifier(app_kit)
    ticket_secret = _ticket_secret(app_kit, service_settings)
    app.state.event_tickets = EventTickets(ticket_secret, service_settings.event_ticket_ttl_s)
    # Innermost: an exception no handler took becomes a 500 Problem and one error report (api/logs.py).
    app.add_middleware(UnhandledErrors, service=service_context(app_kit.settings.cloud_run_service))
    # Authenticate and bound every body before anything reads it (api/edge.py).
    app.add_middleware(
        EdgeGuard,
        verify=lambda: app.state.verify_token,
        upload_limit=lambda: app.state.service_settings.max_upload_bytes,
    )
    if origins := cors_origins(app_kit, service_settings):
        app.add_middleware(
            CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "PATCH", "DELETE"], allow_headers=["*"]
        )
    # Outermost: the request's trace on every line, one access line per request (api/logs.py).
    app.add_middleware(AccessLog, project=app_kit.settings.project)
    quiet_server_access_log()

    @app.exception_handler(SingerError)
    def singer_error(request: Request, error: SingerError) -> JSONResponse:
        # The one place a domain error becomes an HTTP problem: its status and its stable code.
        return JSONResponse(Problem(detail=str(error), code=error.code).model_dump(), status_code=error.status)

    app.add_exception_handler(BackendError, _backend_error)  # type: ignore[arg-type]

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    if app.state.local_tokens is not None:
        app.include_router(auth.router)
        from taskkit.backends.local.blob_routes import create_blob_router
        from taskkit.backends.local.blobs import LocalBlobStore

        if isinstance(app_kit.blobs, LocalBlobStore):
            app.include_router(create_blob_router(app_kit.blobs))
    for module in (uploads, jobs, phrases, me, shares, events, voices, admin):
        app.include_router(module.router)
    if WEB_DIST.is_dir():
        app.include_router(shares.spa_router(WEB_DIST / "index.html"))  # deep links /s/{token}
        # Only the SPA's own files are compressed: the API's answers are small JSON, its event stream
        # must not be buffered, and audio does not compress.
        spa = GZipMiddleware(StaticFiles(directory=WEB_DIST, html=True), minimum_size=1024)
        app.mount("/", spa, name="spa")
    return app


def _backend_error(request: Request, error: BackendError) -> JSONResponse:
    """Ids are validated at the edge (api/params.py); whatever still reaches a backend as a bad name is
    the caller's input, answered 4xx without a traceback; outages are 503."""
    if isinstance(error, TransientBackendError):
        problem, status = Problem(detail="a backend is briefly unavailable; try again", code="unavailable"), 503
        return JSONResponse(problem.model_dump(), status_code=status, headers={"Retry-After": "5"})
    if isinstance(error, NotFound):
        problem, status = Problem(detail="not found", code="not_found"), 404
    elif isinstance(error, AlreadyExists):
        problem, status = Problem(detail="already exists", code="conflict"), 409
    elif str(error).startswith("invalid"):
        problem, status = Problem(detail=str(error), code="bad_request"), 400
    else:
        problem, status = Problem(detail="internal error", code="internal"), 500
    return JSONResponse(problem.model_dump(), status_code=status)


def cors_origins(app_kit: Kit, settings: SingerSettings) -> list[str]:
    """Origins allowed to call the API from a browser: SINGER_CORS_ORIGINS (terraform passes the Hosting
    origins and any custom domain), else the project's Firebase Hosting origins on the gcp family."""
    if settings.cors_origins:
        return list(settings.cors_origins)
    project = app_kit.settings.firebase_project_id or app_kit.settings.project
    if app_kit.settings.backend == "gcp" and project:
        return [f"https://{project}.web.app", f"https://{project}.firebaseapp.com"]
    return []


def _ticket_secret(app_kit: Kit, settings: SingerSettings) -> bytes:
    """The key of event-stream tickets: configured, the local signing key, or random per process."""
    if settings.ticket_secret:
        return settings.ticket_secret.encode()
    if app_kit.settings.backend == "local":
        return signing_key(app_kit.settings.data_dir, app_kit.settings.signing_secret)
    return secrets.token_bytes(32)
