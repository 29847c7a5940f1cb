"""The GPU tier: a final job's phrase tasks and assembly go to the GPU topic when one is configured, a
preview's stay on the CPU topic, and without the GPU tier everything stays on the CPU topic. Read from
the local broker's published messages; the device choice is checked on this (GPU-less) machine."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator

import pytest

from singer_tasks.errors import SettingsError
from singer_tasks.kit import RENDER_TOPIC, render_topic
from singer_tasks.render.tasks import republish_stale_jobs
from singer_tasks.settings import SingerSettings, get_settings
from singer_tasks.voices.device import choose_device, half_dtype, voice_device
from singer_tasks.voices.loader import get_voice
from taskkit import Kit
from tests.api.conftest import Client, song_bytes
from tests.api.driver import InlineDriver

Clients = Callable[[str], Client]
GPU_TOPIC = "render-jobs-gpu"


@pytest.fixture
def service_settings(request: pytest.FixtureRequest) -> SingerSettings:
    """The api's settings (tests/api/conftest.py's), naming the GPU topic where the test uses `gpu_tier`."""
    gpu_topic = GPU_TOPIC if "gpu_tier" in request.fixturenames else None
    return SingerSettings(default_credits=100, max_jobs_in_flight=100, max_song_seconds=60, gpu_topic=gpu_topic)


@pytest.fixture
def gpu_tier(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worker's settings name the GPU topic (terraform's render-jobs-gpu); the api's, see above."""
    monkeypatch.setenv("SINGER_GPU_TOPIC", GPU_TOPIC)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def published(kit: Kit) -> dict[str, str]:
    """Task id -> the topic its message was published to, for every message on the local broker."""
    with sqlite3.connect(kit.settings.data_dir / "broker.sqlite3") as conn:
        rows = conn.execute("SELECT topic, attributes FROM messages").fetchall()
    return {json.loads(attributes)["id"]: topic for topic, attributes in rows}


def render(alice: Client, kit: Kit, render_type: str) -> tuple[str, dict[str, str]]:
    job_id = alice.job(alice.upload(song_bytes(3, phrase_per_bar=True)), renderType=render_type).json()["id"]
    InlineDriver(kit).drain()
    assert (kit.documents.get(f"jobs/{job_id}") or {})["status"] == "completed"
    return job_id, {t: topic for t, topic in published(kit).items() if job_id in t}


def test_a_final_job_sings_on_the_gpu_tier_and_a_preview_on_the_cpu(client: Clients, kit: Kit, gpu_tier: None) -> None:
    alice = client("alice")
    job_id, topics = render(alice, kit, "final")
    sung = {f"render-{job_id}"} | {f"{job_id}:{i}" for i in range(3)} | {f"{job_id}:assemble"}
    assert set(topics) == sung and set(topics.values()) == {GPU_TOPIC}
    job_id, topics = render(alice, kit, "preview")
    assert len(topics) == 5 and set(topics.values()) == {RENDER_TOPIC}


def test_without_the_gpu_tier_everything_stays_on_the_cpu_topic(client: Clients, kit: Kit) -> None:
    get_settings.cache_clear()
    _, topics = render(client("alice"), kit, "final")
    assert len(topics) == 5 and set(topics.values()) == {RENDER_TOPIC}


def test_a_stale_final_job_is_republished_to_the_gpu_tier(client: Clients, kit: Kit, gpu_tier: None) -> None:
    alice = client("alice")
    final = alice.job(alice.upload(song_bytes(1)), renderType="final").json()["id"]
    preview = alice.job(alice.upload(song_bytes(1)), renderType="preview").json()["id"]
    with sqlite3.connect(kit.settings.data_dir / "broker.sqlite3") as conn:
        conn.execute("DELETE FROM messages")  # the messages were lost
    for job_id in (final, preview):
        kit.documents.update(f"jobs/{job_id}", {"updatedAt": time.time() - 10 * get_settings().stale_pending_s})
    assert republish_stale_jobs(kit) == 2
    assert published(kit) == {f"render-{final}": GPU_TOPIC, f"render-{preview}": RENDER_TOPIC}


def test_the_topic_follows_the_render_type_and_the_settings() -> None:
    assert render_topic("final", GPU_TOPIC) == GPU_TOPIC
    assert render_topic("preview", GPU_TOPIC) == RENDER_TOPIC
    assert render_topic("final", None) == render_topic("final", "") == RENDER_TOPIC
    assert render_topic("preview", GPU_TOPIC, ("final", "preview")) == GPU_TOPIC
    settings = SingerSettings.from_env({"SINGER_GPU_TOPIC": GPU_TOPIC, "SINGER_GPU_RENDER_TYPES": "final,preview"})
    assert settings.gpu_topic == GPU_TOPIC and settings.gpu_render_types == ("final", "preview")


def test_the_device_is_cuda_only_where_a_gpu_is_and_the_setting_allows() -> None:
    assert choose_device("auto", has_cuda=True) == "cuda"
    assert choose_device("auto", has_cuda=False) == choose_device("cpu", has_cuda=True) == "cpu"
    with pytest.raises(SettingsError, match="SINGER_DEVICE=cuda"):
        choose_device("cuda", has_cuda=False)
    with pytest.raises(SettingsError, match="not one of"):
        choose_device("tpu")
    import torch

    assert choose_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert half_dtype("cuda", bf16_supported=True) is torch.bfloat16
    assert half_dtype("cuda", bf16_supported=False) is torch.float16
    assert half_dtype("cpu") is None
    assert voice_device(get_voice("builtin")) == "cpu"
    linear = torch.nn.Linear(2, 2)
    assert voice_device(type("V", (), {"model": linear})()) == "cpu"
