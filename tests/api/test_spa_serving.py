"""The API serves the built SPA: its files compressed when the browser accepts gzip (a phone on a slow
link loads a third of the bytes), a shared link's deep path answered with index.html, and the API's own
answers left as they are."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import api.main
from api.main import create_app
from singer_tasks.settings import SingerSettings
from taskkit import Kit


@pytest.fixture
def served(tmp_path: Path, kit: Kit, service_settings: SingerSettings, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>singer</title>" + "<!-- pad -->" * 200)
    (dist / "assets" / "app.js").write_text("export const words = " + repr("la " * 20_000) + ";\n")
    (dist / "config.json").write_text("{}")
    monkeypatch.setattr(api.main, "WEB_DIST", dist)
    return TestClient(create_app(kit, service_settings))


def test_the_spa_files_are_compressed_for_browsers_that_accept_gzip(served: TestClient) -> None:
    script = served.get("/assets/app.js", headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200 and script.headers["content-encoding"] == "gzip"
    assert int(script.headers["content-length"]) < len(script.content) / 10  # decoded by the client
    plain = served.get("/assets/app.js", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.content == script.content


def test_deep_links_and_runtime_config_are_served(served: TestClient) -> None:
    shared = served.get("/s/some-token", headers={"Accept-Encoding": "gzip"})
    assert shared.status_code == 200 and shared.text.startswith("<!doctype html>")
    config = served.get("/config.json")
    assert config.status_code == 200 and config.json() == {}


def test_api_answers_are_not_compressed(served: TestClient) -> None:
    health = served.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert health.json() == {"ok": True} and "content-encoding" not in health.headers
