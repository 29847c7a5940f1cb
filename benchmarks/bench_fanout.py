"""Long songs on the embedded stack: wall time with 1, 2 and 4 worker processes, and a re-render.

A Mandarin song of `--seconds` (default 180) sung by a default-size DiffSinger voice on random weights
(hidden 384, LYNXNet2 1024 x 6, 20 euler steps, NSF-HiFiGAN), built into a scratch voices folder.
Each run is a fresh stack (`python -m taskkit run --workers N`) rendering the song as one job; then,
on the last stack, the song with one phrase edited is rendered again (the phrase cache serves the
rest). Prints figures and ratios; asserts nothing. `python -m benchmarks fanout [--seconds S]`.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from taskkit.supervisor import free_port, wait_until_healthy

REPO = Path(__file__).resolve().parents[1]
REFERENCE_CONFIG = REPO / "tests/singer_tasks/fixtures/openvpi/main-lynxnet2-euler/config.yaml"
BARS_PER_PHRASE = 4  # at 120 bpm: 8 s phrases (7.5 s sung, then a rest)
SYLLABLES = ["la", "li", "ma", "mi", "na", "ni", "ba", "bi"]


def build_voice(root: Path) -> None:
    """A default-size random-weight DiffSinger voice in openvpi's layout, under root/bench."""
    import torch

    from benchmarks.bench_voices import DEFAULT_ACOUSTIC, DEFAULT_VOCODER, _save_vocoder
    from singer_tasks.voices.diffsinger.acoustic.load import read_config
    from singer_tasks.voices.diffsinger.acoustic.model import DiffSingerAcoustic
    from singer_tasks.voices.diffsinger.acoustic.phonemes import PhonemeDictionary

    folder = root / "bench"
    folder.mkdir(parents=True)
    config = yaml.safe_load(REFERENCE_CONFIG.read_text()) | DEFAULT_ACOUSTIC
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    dictionary = folder / "dictionary.txt"
    dictionary.write_text((REPO / "phonemes/opencpop-zh.txt").read_text())
    vocab = PhonemeDictionary.read({"zh": dictionary}).vocab_size
    model = DiffSingerAcoustic(read_config(folder / "config.yaml"), vocab)
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"category": "acoustic", "state_dict": state}, folder / "model.ckpt")
    vocoder = _save_vocoder(DEFAULT_VOCODER, folder)
    manifest = {
        "name": "bench",
        "kind": "diffsinger",
        "licence": "random weights (benchmark only)",
        "languages": ["zh"],
        "acoustic": {"checkpoint": "model.ckpt", "config": "config.yaml", "dictionaries": {"zh": "dictionary.txt"}},
        "vocoder": {
            "checkpoint": str(vocoder.relative_to(folder)),
            "config": str(vocoder.parent.name + "/config.json"),
        },
        "defaults": {"steps": 20},
    }
    (folder / "voice.yaml").write_text(yaml.safe_dump(manifest))


def song(seconds: float, edited_phrase: int | None = None) -> bytes:
    """MusicXML: phrases of four 4/4 bars of quarters at 120 bpm, each ending on a rest."""
    bars = max(BARS_PER_PHRASE, round(seconds / 2 / BARS_PER_PHRASE) * BARS_PER_PHRASE)
    measures = []
    for b in range(bars):
        notes = []
        phrase_end = b % BARS_PER_PHRASE == BARS_PER_PHRASE - 1
        for i in range(3 if phrase_end else 4):
            step = "CDEG"[(b + i) % 4]
            syllable = SYLLABLES[(b * 4 + i) % len(SYLLABLES)]
            if edited_phrase is not None and b // BARS_PER_PHRASE == edited_phrase and i == 0:
                syllable = "na" if syllable != "na" else "la"
            notes.append(
                f"<note><pitch><step>{step}</step><octave>4</octave></pitch><duration>4</duration>"
                f"<type>quarter</type><lyric><syllabic>single</syllabic><text>{syllable}</text></lyric></note>"
            )
        if phrase_end:
            notes.append("<note><rest/><duration>4</duration><type>quarter</type></note>")
        head = (
            "<attributes><divisions>4</divisions><time><beats>4</beats><beat-type>4</beat-type></time></attributes>"
            '<direction><sound tempo="120"/></direction>'
            if b == 0
            else ""
        )
        measures.append(f'<measure number="{b + 1}">{head}{"".join(notes)}</measure>')
    return (
        '<?xml version="1.0"?><score-partwise version="4.0"><part-list><score-part id="P1"><part-name>Voice'
        f'</part-name></score-part></part-list><part id="P1">{"".join(measures)}</part></score-partwise>'
    ).encode()


class Stack:
    """`python -m taskkit run` on a scratch data folder with the bench voices; with `warm`, the bench voice
    is the stack's default voice and the stack counts as up once every worker has warmed it up (as a
    deployment serving that voice is before its first job), its log then going to data_dir/stack.log."""

    def __init__(self, data_dir: Path, voices: Path, workers: int, *, warm: bool = False) -> None:
        self.port = free_port()
        env = dict(os.environ, TASKKIT_DATA_DIR=str(data_dir), SINGER_VOICES_DIR=str(voices))
        env.update(TASKKIT_LOG_LEVEL="WARNING", SINGER_MAX_SONG_SECONDS="900", SINGER_DEFAULT_CREDITS="100000")
        log = None
        if warm:
            data_dir.mkdir(parents=True, exist_ok=True)
            env.update(SINGER_DEFAULT_VOICE="bench", TASKKIT_LOG_LEVEL="INFO")
            log = (data_dir / "stack.log").open("wb")
        cmd = [sys.executable, "-m", "taskkit", "run", "--port", str(self.port), "--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, env=env, cwd=REPO, start_new_session=True, stdout=log, stderr=log)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_until_healthy(self.url + "/healthz", alive=lambda: self.proc.poll() is None, timeout_s=120)
        if warm:
            self._wait_warm(data_dir / "stack.log", workers, timeout_s=300)
        token = httpx.post(f"{self.url}/v1/auth/local", json={"uid": "bench"}).json()["token"]
        self.auth = {"Authorization": f"Bearer {token}"}

    def _wait_warm(self, log: Path, workers: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while log.read_bytes().count(b"worker.warmed") < workers:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the stack's workers did not warm up; see {log}")
            time.sleep(0.2)

    def render(self, score: bytes) -> tuple[float, dict[str, Any]]:
        """Seconds from job creation to completion, and the finished job."""
        files = {"file": ("song.musicxml", score)}
        score_id = httpx.post(f"{self.url}/v1/uploads", files=files, headers=self.auth).json()["scoreId"]
        start = time.perf_counter()
        body = {"scoreId": score_id, "voice": "bench", "language": "zh"}
        job_id = httpx.post(f"{self.url}/v1/jobs", json=body, headers=self.auth).json()["id"]
        while True:
            job = httpx.get(f"{self.url}/v1/jobs/{job_id}", headers=self.auth).json()
            if job["status"] in ("completed", "failed"):
                if job["status"] == "failed":
                    raise RuntimeError(f"the benchmark job failed: {job['error']}")
                return time.perf_counter() - start, job
            time.sleep(0.5)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(60)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks fanout")
    parser.add_argument("--seconds", type=float, default=180.0, help="song length (default 180)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    build_voice(scratch / "voices")
    score = song(args.seconds)
    print(f"song: {args.seconds:g} s requested, default-size random DiffSinger voice, CPUs: {os.cpu_count()}")
    walls: dict[int, float] = {}
    for workers in args.workers:
        stack = Stack(scratch / f"data-{workers}", scratch / "voices", workers)
        try:
            walls[workers], job = stack.render(score)
            print(
                f"{workers} worker(s): {walls[workers]:.1f} s wall for {job['durationSeconds']:.1f} s of song "
                f"(RTF {walls[workers] / job['durationSeconds']:.2f})"
            )
            if workers == args.workers[-1]:
                rerender, _ = stack.render(song(args.seconds, edited_phrase=1))
                print(f"re-render with one phrase edited: {rerender:.1f} s ({rerender / walls[workers]:.2f} x first)")
        finally:
            stack.stop()
    base = walls[args.workers[0]]
    print("speed-up over 1 worker: " + ", ".join(f"{w}: {base / t:.2f}x" for w, t in walls.items()))


if __name__ == "__main__":
    main()
