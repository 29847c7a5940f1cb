"""Fixtures for the API and the render job: the service's Kit on a fresh local family, the API served
over real HTTP in-process, signed-in clients and small scores built for the tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import singer_tasks.render.tasks  # noqa: F401 - registers the render task on the service kit
from api.main import create_app
from singer_tasks.kit import kit as service_kit
from singer_tasks.settings import SingerSettings
from taskkit import Kit, Settings
from taskkit.supervisor import free_port
from tests.singer_tasks.fixtures.scores.xmlbuild import measure, note, rest, tempo, voice_score
from tests.taskkit.conftest import FAST, LiveServer


def song_bytes(bars: int = 2, *, lang: str | None = None, lyrics: bool = True, phrase_per_bar: bool = False) -> bytes:
    """A score of `bars` 4/4 bars of quarters at 120 bpm (2 s a bar), ending on a rest.

    With `phrase_per_bar`, every bar ends on a rest, so each bar is a phrase of its own.
    """
    words = ["la", "li", "lo", "lu"]
    measures = []
    for b in range(bars):
        items = [tempo(120)] if b == 0 else []
        last = b == bars - 1 or phrase_per_bar
        for i in range(3 if last else 4):
            text = words[i] if lyrics else None
            items.append(note("C4" if i % 2 else "E4", 4, text))
        if last:
            items.append(rest(4))
        measures.append(measure(b + 1, *items))
    data = voice_score(measures)
    if lang:
        data = data.replace(b"<lyric ", f'<lyric xml:lang="{lang}" '.encode()).replace(
            b"<lyric>", f'<lyric xml:lang="{lang}">'.encode()
        )
    return data


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    """The service's own Kit (the render task is registered on it), on a fresh local data folder."""
    port = free_port()
    service_kit.configure(
        Settings(backend="local", data_dir=tmp_path / "data", public_url=f"http://127.0.0.1:{port}", **FAST)  # type: ignore[arg-type]
    )
    service_kit.test_port = port  # type: ignore[attr-defined]
    yield service_kit
    service_kit.close()
    service_kit._settings = None


@pytest.fixture
def service_settings() -> SingerSettings:
    return SingerSettings(default_credits=100, max_jobs_in_flight=100, max_song_seconds=60)


@pytest.fixture
def api(kit: Kit, service_settings: SingerSettings) -> Iterator[LiveServer]:
    """The API served over real HTTP, on the port its signed URLs name."""
    with LiveServer(create_app(kit, service_settings), port=kit.test_port) as server:  # type: ignore[attr-defined]
        yield server


class Client:
    """A signed-in user of the API."""

    def __init__(self, base: str, uid: str) -> None:
        self.base, self.uid = base, uid
        token = httpx.post(f"{base}/v1/auth/local", json={"uid": uid}).json()["token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.base + path, headers=self.headers, timeout=30, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.post(self.base + path, headers=self.headers, timeout=30, **kw)

    def upload(self, data: bytes, filename: str = "song.musicxml") -> str:
        response = self.post("/v1/uploads", files={"file": (filename, data, "application/octet-stream")})
        assert response.status_code == 201, response.text
        return str(response.json()["scoreId"])

    def job(self, score_id: str, **body: Any) -> httpx.Response:
        return self.post("/v1/jobs", json={"scoreId": score_id, **body})

    def me(self) -> dict[str, Any]:
        return dict(self.get("/v1/me").json())


@pytest.fixture
def client(api: LiveServer) -> Callable[[str], Client]:
    return lambda uid: Client(api.url, uid)
