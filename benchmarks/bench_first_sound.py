"""Time to first sound: how soon a song starts playing while it renders, against the time to the whole WAV.

A Mandarin song of `--seconds` (default 180) sung by a default-size DiffSinger voice on random weights
(the fan-out benchmark's voice and song: 8 s phrases), as a final render on a fresh embedded stack with
`--workers` (default 2) worker processes. From the job's creation (the POST returning) it polls
`GET /v1/jobs/{id}/phrases` every 50 ms and prints when phrase 0 is listed (the SPA can start playing
then) and its WAV fetched, when every phrase is listed, and when the job completes with the WAV.
Prints the CPU model, its ISA flags (benchmarks/machine.py) and the load average; asserts nothing.
`python -m benchmarks first_sound`, or `python -m benchmarks.bench_first_sound [--seconds S] [--workers N]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.bench_fanout import Stack, build_voice, song
from benchmarks.machine import cpu_line
from singer_tasks.settings import get_settings

POLL_S = 0.05


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks first_sound")
    parser.add_argument("--seconds", type=float, default=180.0, help="song length (default 180)")
    parser.add_argument("--workers", type=int, default=2)
    # `python -m benchmarks first_sound` leaves the benchmark's name in sys.argv: ignore what is not ours.
    args, _ = parser.parse_known_args(argv)
    scratch = Path(tempfile.mkdtemp(prefix="bench-first-sound-"))
    build_voice(scratch / "voices")
    print(f"CPU: {cpu_line()}")
    print("GPU: none used (the embedded stack renders on the CPU; no GPU on this machine)")
    # The voice is the stack's default, so each worker loads it and renders a short silence with it
    # while it starts (singer_tasks/voices/warmup.py), as a deployment serving it does before a job.
    stack = Stack(scratch / "data", scratch / "voices", args.workers, warm=True)
    try:
        files = {"file": ("song.musicxml", song(args.seconds))}
        score_id = httpx.post(f"{stack.url}/v1/uploads", files=files, headers=stack.auth).json()["scoreId"]
        body = {"scoreId": score_id, "voice": "bench", "language": "zh", "renderType": "final"}
        job_id = httpx.post(f"{stack.url}/v1/jobs", json=body, headers=stack.auth, timeout=30).json()["id"]
        created = time.perf_counter()
        first_listed = first_fetched = all_listed = None
        first_len = total = 0
        while True:
            listed = httpx.get(f"{stack.url}/v1/jobs/{job_id}/phrases", headers=stack.auth, timeout=30).json()
            now = time.perf_counter() - created
            ready = {p["index"]: p for p in listed["ready"]}
            if first_listed is None and 0 in ready:
                first_listed = now
                wav = httpx.get(ready[0]["url"], timeout=30)
                wav.raise_for_status()
                first_fetched = time.perf_counter() - created
                first_len = ready[0]["durationSeconds"]
                print(f"(first phrase playable after {first_fetched:.1f} s; rendering the rest...)", flush=True)
            total = listed["total"] or total
            if all_listed is None and total and len(ready) == total:
                all_listed = now
            job = httpx.get(f"{stack.url}/v1/jobs/{job_id}", headers=stack.auth, timeout=30).json()
            if job["status"] in ("completed", "failed"):
                if job["status"] == "failed":
                    raise RuntimeError(f"the benchmark job failed: {job['error']}")
                whole = time.perf_counter() - created
                break
            time.sleep(POLL_S)
    finally:
        stack.stop()
    load = os.getloadavg()
    print(f"song: {job['durationSeconds']:.1f} s, {total} phrases, final render, {args.workers} workers, "
          f"the voice warmed up at worker start; first phrase cut at {get_settings().first_phrase_s:g} s")  # fmt: skip
    print(f"first phrase ({first_len:.1f} s of audio) listed: {first_listed:.1f} s after job creation, "
          f"its WAV fetched: {first_fetched:.1f} s")  # fmt: skip
    if all_listed is not None:
        print(f"every phrase listed: {all_listed:.1f} s")
    print(f"whole WAV (job completed): {whole:.1f} s (RTF {whole / job['durationSeconds']:.2f})")
    print(f"load average (1, 5, 15 min): {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


if __name__ == "__main__":
    main()
