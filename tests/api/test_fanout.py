"""Long songs: one task per phrase, then an assembly; the phrase cache; failure of one phrase."""

from __future__ import annotations

import dataclasses
import io
import wave
from collections.abc import Callable

import numpy as np

from singer_tasks.phonemize import score_to_phrases
from singer_tasks.render.assembly import encode_wav
from singer_tasks.render.job import Plan, plan_key
from singer_tasks.render.pipeline import render_phrases
from singer_tasks.score.read import parse_score
from singer_tasks.voices.loader import get_voice
from taskkit import Kit
from tests.api.conftest import Client, song_bytes
from tests.api.driver import InlineDriver

Clients = Callable[[str], Client]


def pcm(data: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(data)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


def completed_wav(kit: Kit, job_id: str) -> np.ndarray:
    job = kit.documents.get(f"jobs/{job_id}") or {}
    assert job["status"] == "completed", job
    return pcm(kit.blobs.get(job["outputPath"]))


def test_a_long_song_fans_out_and_equals_the_single_process_render(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    score = song_bytes(10, phrase_per_bar=True)
    job_id = alice.job(alice.upload(score)).json()["id"]
    driver = InlineDriver(kit)
    driver.drain(limit=4)  # the render and the first three phrases
    live = alice.get(f"/v1/jobs/{job_id}").json()["progress"]
    assert live["stage"] == "phrases" and 0.0 < live["fraction"] < 1.0
    driver.drain()
    phrase_tasks = [t for t in driver.delivered if t.split(":")[-1].isdigit()]
    assert len(phrase_tasks) == 10 and driver.delivered[-1] == f"{job_id}:assemble"
    fanned = completed_wav(kit, job_id)
    # The same score sung in one process, by the pipeline the CLI uses.
    parsed = parse_score(score, "song.musicxml")
    phrases = score_to_phrases(parsed, language=None)
    voice = get_voice("builtin")
    single = render_phrases(phrases, voice, min_duration_s=parsed.duration_s)
    reference = pcm(encode_wav(single, voice.sample_rate))
    assert len(fanned) == len(reference) == round(20.0 * voice.sample_rate)
    # One render path: the phrase tasks and the in-process render sing and assemble with the same functions.
    assert np.array_equal(fanned, reference)
    assert np.abs(fanned.astype(int) - reference.astype(int)).max() <= 1


def test_the_phrase_cache_renders_only_what_changed(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    alice.job(alice.upload(song_bytes(4, phrase_per_bar=True)))
    InlineDriver(kit).drain()
    first = set(kit.blobs.list("cache/phrases/"))
    assert len(first) == 4
    again = alice.job(alice.upload(song_bytes(4, phrase_per_bar=True))).json()["id"]
    InlineDriver(kit).drain()
    assert set(kit.blobs.list("cache/phrases/")) == first  # every phrase reused
    completed_wav(kit, again)
    edited = song_bytes(4, phrase_per_bar=True).replace(b"<text>lo</text>", b"<text>ma</text>", 1)
    alice.job(alice.upload(edited))
    InlineDriver(kit).drain()
    assert len(set(kit.blobs.list("cache/phrases/")) - first) == 1  # only the edited phrase rendered


def test_a_phrase_failing_for_good_fails_the_job_once(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    job_id = alice.job(alice.upload(song_bytes(5, phrase_per_bar=True))).json()["id"]
    driver = InlineDriver(kit)
    driver.drain(limit=1)  # the render: plan stored, chord sent
    plan = Plan.from_json(kit.blobs.get(plan_key(job_id)))
    seq = plan.phrases[2].ph_seq
    plan.phrases[2] = dataclasses.replace(plan.phrases[2], ph_seq=("qq", *seq[1:]))
    kit.blobs.put(plan_key(job_id), plan.to_json())  # phrase 2 now holds a phoneme no voice sings
    driver.drain()
    assert driver.answers["failed"] == 1
    job = alice.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "failed" and job["error"]["code"] == "voice_lacks_phoneme"
    assert job["credits"]["refunded"] == job["credits"]["reserved"]
    assert alice.me()["balance"] == 100 and alice.me()["reserved"] == 0
    assert f"{job_id}:assemble" not in driver.delivered  # the callback never fires
    skipped = [kit.leases.get(f"{job_id}:{i}")["result"] for i in (3, 4)]  # type: ignore[index]
    assert skipped == [{"skipped": True}, {"skipped": True}]
