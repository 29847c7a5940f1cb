"""An OpenUtau voicebank (.zip in the voices dir) sings a job end to end on the embedded stack, with the job's
expression `voice` (the voicebank's duration and pitch models) and `score` (as written)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from singer_tasks.voices.loader import clear_voice_cache
from taskkit import Kit
from tests.api.conftest import Client
from tests.api.test_render import run_job, wav_seconds
from tests.singer_tasks.test_voice_chain import song, zip_bank

Clients = Callable[[str], Client]


@pytest.fixture
def voicebank_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "voices"
    root.mkdir()
    zip_bank(root / "tiny-random-v1.zip")
    monkeypatch.setenv("SINGER_VOICES_DIR", str(root))
    monkeypatch.setenv("SINGER_VOICE_CACHE_DIR", str(tmp_path / "voice-cache"))
    clear_voice_cache()
    yield root
    clear_voice_cache()


@pytest.mark.parametrize("expression", ["voice", "score"])
def test_a_voicebank_sings_a_job(client: Clients, kit: Kit, voicebank_dir: Path, expression: str) -> None:
    alice = client("alice")
    response = alice.job(alice.upload(song()), voice="tiny-random", language="zh", expression=expression,
                         speaker="spk1")  # fmt: skip
    assert response.status_code in (200, 201, 202), response.text
    job_id = response.json()["id"]
    assert run_job(kit).answers["failed"] == 0
    job = alice.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "completed" and job["voice"] == "tiny-random", job.get("error")
    urls = alice.get(f"/v1/jobs/{job_id}/output").json()
    audio = httpx.get(urls["url"])
    assert audio.headers["content-type"] == "audio/wav"
    seconds = wav_seconds(audio.content)
    assert seconds == pytest.approx(job["durationSeconds"], abs=0.01) and seconds >= 4.0
