"""The render task on the local family: completion and settlement, duplicates, and every bad input
ending as a failed job with its code and a full refund."""

from __future__ import annotations

import io
import threading
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from singer_tasks.jobs import transitions as jobs
from taskkit import Kit
from taskkit.executor import Executor
from taskkit.message import TaskMessage
from tests.api.conftest import Client, song_bytes
from tests.api.driver import InlineDriver
from tests.singer_tasks.fixtures.scores.xmlbuild import measure, note, tempo, voice_score
from tests.taskkit.conftest import push_body

Clients = Callable[[str], Client]
VOICES = Path(__file__).resolve().parents[1] / "singer_tasks" / "fixtures" / "voices"


def deliver(kit: Kit, job_id: str, executor: Executor | None = None) -> str:
    """Deliver the job's render message once; returns the answer."""
    body = push_body(TaskMessage("singer.render", f"render-{job_id}", {"job_id": job_id}))
    return (executor or Executor(kit)).handle_push(body).answer.value


def run_job(kit: Kit) -> InlineDriver:
    """Deliver everything queued (the render, its phrases, the assembly) until all is acked."""
    driver = InlineDriver(kit)
    driver.drain()
    return driver


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data)) as w:
        return w.getnframes() / w.getframerate()


def test_render_completes_charges_and_writes_outputs(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    job_id = alice.job(alice.upload(song_bytes(2)), renderType="final").json()["id"]
    driver = run_job(kit)
    assert driver.delivered[0] == f"render-{job_id}" and driver.delivered[-1] == f"{job_id}:assemble"
    assert driver.answers["done"] == len(driver.delivered)
    job = alice.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "completed" and job["progress"] == {"stage": "done", "fraction": 1.0}
    # 2 bars at 120 bpm = 4 s, the final rest included (a phrase may add a 0.3 s SP pad at most).
    assert 4.0 <= job["durationSeconds"] <= 4.35
    assert job["credits"] == {"reserved": 6, "charged": 1, "refunded": 5}
    me = alice.me()
    assert (me["balance"], me["reserved"], me["inFlight"]) == (99, 0, 0)
    urls = alice.get(f"/v1/jobs/{job_id}/output").json()
    import httpx

    audio = httpx.get(urls["url"])
    assert audio.headers["content-type"] == "audio/wav"
    assert abs(wav_seconds(audio.content) - job["durationSeconds"]) < 0.01
    display = httpx.get(urls["displayUrl"]).json()
    assert len(display["notes"]) == 7 and display["notes"][0]["lyric"] == "la"
    assert display["phonemes"] and display["f0"]


def test_duplicate_and_concurrent_deliveries_render_once(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    job_id = alice.job(alice.upload(song_bytes(3, phrase_per_bar=True))).json()["id"]
    executors = [Executor(kit) for _ in range(4)]
    answers: list[str] = []
    threads = [threading.Thread(target=lambda e=e: answers.append(deliver(kit, job_id, e))) for e in executors * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers.count("done") == 1 and set(answers) <= {"done", "busy", "duplicate"}
    first = run_job(kit)  # every phrase and the assembly, once
    again = InlineDriver(kit)
    again.drain()  # the whole job redelivered, every message a second time
    assert set(again.answers) == {"duplicate"} and again.answers["duplicate"] == len(first.delivered)
    job = alice.get(f"/v1/jobs/{job_id}").json()
    assert job["attempts"] == 1 and job["status"] == "completed"
    assert alice.me()["balance"] == 100 - job["credits"]["charged"]
    phrases = sum(1 for task_id in first.delivered if task_id.split(":")[-1].isdigit())
    assert phrases == 3 and len(kit.blobs.list("cache/phrases/")) == phrases
    assert len([k for k in kit.blobs.list(f"jobs/{job_id}/") if k.endswith("output.wav")]) == 1


def test_a_cancelled_job_is_skipped(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    job_id = alice.job(alice.upload(song_bytes(1))).json()["id"]
    alice.post(f"/v1/jobs/{job_id}/cancel")
    assert run_job(kit).delivered == [f"render-{job_id}"]
    assert alice.get(f"/v1/jobs/{job_id}").json()["status"] == "cancelled"
    assert kit.blobs.list(f"jobs/{job_id}/") == []
    assert alice.me()["balance"] == 100


def no_lyrics() -> bytes:
    return song_bytes(1, lyrics=False)


def corrupt() -> bytes:
    return b'<?xml version="1.0"?><score-partwise version="4.0"><part-list><score-part id="P1">'


def pinyin(*syllables: str) -> bytes:
    return voice_score([measure(1, tempo(120), *[note("C4", 4, s) for s in syllables])])


BAD_INPUTS = [
    pytest.param(no_lyrics, {}, {}, "no_lyrics", id="no-lyrics"),
    pytest.param(corrupt, {}, {}, "unreadable_score", id="corrupt"),
    pytest.param(lambda: song_bytes(1, lang="ko"), {}, {}, "unsupported_language", id="language"),
    pytest.param(lambda: song_bytes(4), {}, {"SINGER_MAX_SONG_SECONDS": "5"}, "song_too_long", id="too-long"),
    pytest.param(
        lambda: pinyin("ba", "la"),
        {"voice": "tiny", "language": "zh"},
        {"SINGER_VOICES_DIR": str(VOICES)},
        "voice_lacks_phoneme",
        id="voice-lacks-phoneme",
    ),
    pytest.param(lambda: song_bytes(1), {"voice": "nosuchvoice"}, {}, "voice_not_found", id="unknown-voice"),
]


@pytest.mark.parametrize(("make", "body", "env", "code"), BAD_INPUTS)
def test_bad_inputs_fail_with_their_code_and_a_refund(
    client: Clients,
    kit: Kit,
    monkeypatch: pytest.MonkeyPatch,
    make: Callable[[], bytes],
    body: dict,
    env: dict,
    code: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    alice = client("alice")
    job_id = alice.job(alice.upload(make()), **body).json()["id"]
    assert run_job(kit).answers["failed"] == 1
    job = alice.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "failed" and job["error"]["code"] == code, job["error"]
    assert len(job["error"]["message"]) > 20
    assert job["credits"]["refunded"] == job["credits"]["reserved"] and job["credits"]["charged"] == 0
    me = alice.me()
    assert (me["balance"], me["reserved"], me["inFlight"]) == (100, 0, 0)
    assert deliver(kit, job_id) == "duplicate"
    assert alice.me()["balance"] == 100


def test_missing_input_fails_with_its_code(client: Clients, kit: Kit) -> None:
    alice = client("alice")
    score_id = alice.upload(song_bytes(1))
    job_id = alice.job(score_id).json()["id"]
    kit.blobs.delete(f"uploads/alice/{score_id}.musicxml")
    assert run_job(kit).answers["failed"] == 1
    assert alice.get(f"/v1/jobs/{job_id}").json()["error"]["code"] == "input_missing"


def test_a_diffsinger_voice_renders_through_the_job(client: Clients, kit: Kit, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SINGER_VOICES_DIR", str(VOICES))
    alice = client("alice")
    job_id = alice.job(alice.upload(pinyin("ba", "di", "gu")), voice="tiny", language="zh").json()["id"]
    assert run_job(kit).answers["failed"] == 0
    job = jobs.get_job(kit.documents, job_id, "alice")
    assert job.status == "completed" and job.voice == "tiny"
    assert job.output_path is not None and job.duration_seconds is not None
    assert wav_seconds(kit.blobs.get(job.output_path)) == pytest.approx(job.duration_seconds, abs=0.01)
