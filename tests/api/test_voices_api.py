"""GET /v1/voices and each voice's portrait: public (no sign-in), from the voice catalogue; and a job
may name a speaker and an expression."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

import api.routes.voices as voices_route
from singer_tasks.jobs.model import job_path
from singer_tasks.settings import SingerSettings
from singer_tasks.voices.catalog import list_voices
from taskkit import Kit
from tests.api.conftest import Client, song_bytes
from tests.taskkit.conftest import LiveServer

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass(frozen=True)
class FakeVoice:
    """The catalogue's VoiceInfo, as far as the routes read it."""

    name: str
    kind: str = "diffsinger"
    author: str | None = None
    description: str | None = None
    languages: tuple[str, ...] = ("zh",)
    speakers: tuple[str, ...] = ()
    stages: tuple[str, ...] = ("acoustic", "vocoder")
    licence: str | None = None
    portrait: Path | None = None
    folder: Path = field(default_factory=Path)


@pytest.fixture
def fake_voices(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[FakeVoice]:
    portrait = tmp_path / "alto.png"
    portrait.write_bytes(PNG)
    voices = [
        FakeVoice("builtin", kind="builtin", languages=("en", "zh"), stages=("acoustic",)),
        FakeVoice(
            "alto",
            author="A. Singer",
            description="A soft alto.",
            speakers=("soft", "bright"),
            stages=("duration", "pitch", "acoustic", "vocoder"),
            licence="CC BY-NC-SA 4.0",
            portrait=portrait,
        ),
        FakeVoice("lost", portrait=tmp_path / "missing.jpg"),
    ]
    monkeypatch.setattr(voices_route, "installed_voices", lambda settings: voices)
    return voices


def test_voices_are_public_and_name_their_portraits(api: LiveServer, fake_voices: list[FakeVoice]) -> None:
    response = httpx.get(f"{api.url}/v1/voices", timeout=10)  # no Authorization header
    assert response.status_code == 200, response.text
    listed = {v["name"]: v for v in response.json()["voices"]}
    assert list(listed) == ["builtin", "alto", "lost"]
    assert listed["alto"] == {
        "name": "alto",
        "author": "A. Singer",
        "description": "A soft alto.",
        "languages": ["zh"],
        "speakers": ["soft", "bright"],
        "stages": ["duration", "pitch", "acoustic", "vocoder"],
        "licence": "CC BY-NC-SA 4.0",
        "portraitUrl": "/v1/voices/alto/portrait",
        "sampleUrl": "/v1/voices/alto/sample",
        "finalDiffers": True,  # not installed here: its own steps are assumed to differ from a preview's
    }
    assert listed["builtin"]["portraitUrl"] is None and listed["builtin"]["speakers"] == []
    assert listed["builtin"]["finalDiffers"] is False


def test_a_portrait_is_served_with_its_image_type(api: LiveServer, fake_voices: list[FakeVoice]) -> None:
    response = httpx.get(f"{api.url}/v1/voices/alto/portrait", timeout=10)
    assert response.status_code == 200 and response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert "max-age" in response.headers["cache-control"]
    for name, why in (("builtin", "no portrait"), ("nobody", "no voice"), ("lost", "no portrait")):
        missing = httpx.get(f"{api.url}/v1/voices/{name}/portrait", timeout=10)
        assert missing.status_code == 404 and why in missing.json()["detail"], name


def test_a_job_stores_its_speaker_and_expression(
    kit: Kit, client: Callable[[str], Client], fake_voices: list[FakeVoice]
) -> None:
    alice = client("alice")
    created = alice.job(alice.upload(song_bytes()), voice="alto", speaker="bright", expression="score")
    assert created.status_code == 202, created.text
    job = created.json()
    assert (job["voice"], job["speaker"], job["expression"]) == ("alto", "bright", "score")
    stored = kit.documents.get(job_path(job["id"])) or {}
    assert (stored["speaker"], stored["expression"]) == ("bright", "score")
    plain = alice.job(alice.upload(song_bytes())).json()
    assert plain["speaker"] is None and plain["expression"] is None
    refused = alice.job(alice.upload(song_bytes()), expression="loud")
    assert refused.status_code == 422


def test_the_installed_voices_come_from_the_catalogue(api: LiveServer, service_settings: SingerSettings) -> None:
    expected = [v.name for v in list_voices(service_settings)]
    response = httpx.get(f"{api.url}/v1/voices", timeout=10)
    assert response.status_code == 200, response.text
    voices = response.json()["voices"]
    assert [v["name"] for v in voices] == expected and "builtin" in expected
    for voice in voices:
        if voice["portraitUrl"]:
            portrait = httpx.get(api.url + voice["portraitUrl"], timeout=10)
            assert portrait.status_code == 200 and portrait.headers["content-type"].startswith("image/")
