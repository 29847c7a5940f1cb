"""Voice samples: rendered once per voice version by a worker task, then served; finalDiffers."""

from __future__ import annotations

import io
import json
import sqlite3
import wave
from collections.abc import Callable

import httpx
import numpy as np

from taskkit import Kit
from tests.api.conftest import Client
from tests.api.driver import InlineDriver

Clients = Callable[[str], Client]


def sample_messages(kit: Kit) -> list[str]:
    with sqlite3.connect(kit.settings.data_dir / "broker.sqlite3") as conn:
        rows = conn.execute("SELECT attributes FROM messages").fetchall()
    return [json.loads(a)["id"] for (a,) in rows if json.loads(a)["task"] == "singer.voice_sample"]


def test_a_voice_sample_is_rendered_once_then_served(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    voices = {v["name"]: v for v in alice.get("/v1/voices").json()["voices"]}
    builtin = voices["builtin"]
    # The built-in voice renders previews and finals alike: the SPA offers one type.
    assert builtin["finalDiffers"] is False and builtin["sampleUrl"] == "/v1/voices/builtin/sample"
    first = httpx.get(alice.base + builtin["sampleUrl"], follow_redirects=False, timeout=30)
    again = httpx.get(alice.base + builtin["sampleUrl"], follow_redirects=False, timeout=30)
    assert first.status_code == again.status_code == 202
    assert int(first.headers["Retry-After"]) > 0 and "being rendered" in first.json()["detail"]
    queued = sample_messages(kit)
    assert len(queued) == 2 and len(set(queued)) == 1  # the same task id: the second is a duplicate
    answers = InlineDriver(kit).drain()
    assert answers["done"] == 1 and answers["duplicate"] == 1
    served = httpx.get(alice.base + builtin["sampleUrl"], follow_redirects=False, timeout=30)
    assert served.status_code == 307
    audio = httpx.get(served.headers["location"] if "://" in served.headers["location"]
                      else alice.base + served.headers["location"], timeout=30)  # fmt: skip
    with wave.open(io.BytesIO(audio.content)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        seconds = w.getnframes() / w.getframerate()
    assert 3.0 < seconds < 10.0 and np.abs(pcm).max() > 1000  # a few seconds, sung
    assert len(sample_messages(kit)) == 2  # served from storage: nothing queued again


def test_an_unknown_voice_has_no_sample(client: Clients) -> None:
    response = httpx.get(client("alice").base + "/v1/voices/nobody/sample", timeout=30)
    assert response.status_code == 404 and "GET /v1/voices" in response.json()["detail"]
