"""The API app: wiring only. `create_app()` is what `[tool.taskkit] web` and Cloud Run serve."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.routes import auth, events, jobs, me, uploads
from api.schemas import Problem
from api.tokens import build_verifier
from singer_tasks.errors import SingerError
from singer_tasks.kit import kit
from singer_tasks.settings import SingerSettings, get_settings
from taskkit import Kit
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
    app.state.service_settings = settings or get_settings()
    app.state.verify_token, app.state.local_tokens = build_verifier(app_kit)
    project = app_kit.settings.firebase_project_id or app_kit.settings.project
    if app_kit.settings.backend == "gcp" and project:
        # The SPA on Firebase Hosting (terraform's hosting_origins) calls the API from another origin.
        origins = [f"https://{project}.web.app", f"https://{project}.firebaseapp.com"]
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"], allow_headers=["*"])

    @app.exception_handler(SingerError)
    def singer_error(request: Request, error: SingerError) -> JSONResponse:
        # The one place a domain error becomes an HTTP problem: its status and its stable code.
        return JSONResponse(Problem(detail=str(error), code=error.code).model_dump(), status_code=error.status)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    if app.state.local_tokens is not None:
        app.include_router(auth.router)
        from taskkit.backends.local.blob_routes import create_blob_router
        from taskkit.backends.local.blobs import LocalBlobStore

        if isinstance(app_kit.blobs, LocalBlobStore):
            app.include_router(create_blob_router(app_kit.blobs))
    for module in (uploads, jobs, me, events):
        app.include_router(module.router)
    if WEB_DIST.is_dir():
        app.mount("/", StaticFiles(directory=WEB_DIST, html=True), name="spa")
    return app
