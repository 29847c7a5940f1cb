"""A completed job offers every download a musician expects: WAV, FLAC, an MP3 to listen to, the .ds
and the display data, each a signed URL serving the file with its content type; older jobs without
the FLAC and the MP3 still answer with what they have."""

from __future__ import annotations

import io
import json
import wave
from collections.abc import Callable

import httpx
import numpy as np
import soundfile as sf

from taskkit import Kit
from tests.api.conftest import Client, song_bytes
from tests.api.driver import InlineDriver

Clients = Callable[[str], Client]
MP3_FRAME = 1152


def completed_job(alice: Client, kit: Kit) -> str:
    job_id: str = alice.job(alice.upload(song_bytes(2)), renderType="final").json()["id"]
    InlineDriver(kit).drain()
    assert alice.get(f"/v1/jobs/{job_id}").json()["status"] == "completed"
    return job_id


def fetch(url: str, content_type: str) -> bytes:
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    return response.content


def test_a_completed_job_offers_every_download(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    job_id = completed_job(alice, kit)
    urls = alice.get(f"/v1/jobs/{job_id}/output").json()
    assert {"url", "flacUrl", "listenUrl", "listenType", "dsUrl", "displayUrl", "expiresInS"} <= set(urls)
    assert urls["listenType"] == "audio/mpeg"

    wav = fetch(urls["url"], "audio/wav")
    with wave.open(io.BytesIO(wav)) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    flac, flac_rate = sf.read(io.BytesIO(fetch(urls["flacUrl"], "audio/flac")), dtype="int16")
    assert flac_rate == rate and np.array_equal(flac, pcm)
    mp3, mp3_rate = sf.read(io.BytesIO(fetch(urls["listenUrl"], "audio/mpeg")), dtype="float32")
    assert mp3_rate == rate and abs(len(mp3) - len(pcm)) <= MP3_FRAME
    ds = json.loads(fetch(urls["dsUrl"], "application/json"))
    assert isinstance(ds, list) and ds and "ph_seq" in ds[0]
    display = json.loads(fetch(urls["displayUrl"], "application/json"))
    assert display["notes"]

    # Every file sits in the WAV's attempt folder, and another user gets none of them.
    folder = {key.rpartition("/")[0] for key in kit.blobs.list(f"jobs/{job_id}/")}
    assert len(folder) == 1
    names = {key.rpartition("/")[2] for key in kit.blobs.list(f"jobs/{job_id}/")}
    assert names == {"output.wav", "song.flac", "song.mp3", "song.ds", "display.json"}
    assert client("mallory").get(f"/v1/jobs/{job_id}/output").status_code == 404


def test_an_older_job_offers_what_it_has(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    job_id = completed_job(alice, kit)
    for key in kit.blobs.list(f"jobs/{job_id}/"):
        if key.endswith(("song.flac", "song.mp3")):
            kit.blobs.delete(key)  # rendered before the FLAC and MP3 existed
    kit.documents.update(f"jobs/{job_id}", {"outputs.flac": None, "outputs.listen": None})
    urls = alice.get(f"/v1/jobs/{job_id}/output").json()
    assert urls["flacUrl"] is None and urls["listenUrl"] is None and urls["listenType"] is None
    assert urls["url"] and urls["dsUrl"] and urls["displayUrl"]
    fetch(urls["url"], "audio/wav")
