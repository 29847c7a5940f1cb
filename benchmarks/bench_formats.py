"""Download formats: size and encode time of WAV, FLAC and MP3 for a 3-minute song.

`python -m benchmarks formats [--seconds 180] [--repeats 3] [--score PATH]`

The signal is real singing: the score (default: the twinkle fixture) rendered once by the built-in
voice at its 44.1 kHz, then repeated end to end to the wanted length. A repeat does not help any of
the three codecs (FLAC frames and MP3 granules are a few thousand samples, far shorter than a
repeat), so sizes and times are those of a song that long. Each format is encoded by the function the
service uses (singer_tasks/render/assembly.py, encode.py); the median of the repeats is printed with
the size, the bitrate and the share of the WAV's size, under the CPU's model and ISA flags.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from benchmarks.machine import cpu_description
from singer_tasks.render.assembly import encode_wav
from singer_tasks.render.encode import encode_flac, encode_mp3

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCORE = REPO / "tests" / "singer_tasks" / "fixtures" / "scores" / "twinkle.musicxml"
Encoder = Callable[[np.ndarray, int], bytes]
FORMATS: dict[str, Encoder] = {"wav": encode_wav, "flac": encode_flac, "mp3": encode_mp3}


def sung_song(score: Path, seconds: float) -> tuple[np.ndarray, int, float]:
    """`seconds` of the built-in voice singing `score` (repeated to length), its rate, and the sung length."""
    from singer_tasks.render.pipeline import RenderOptions, render_phrases
    from singer_tasks.render.plan import plan_song
    from singer_tasks.score.limits import ScoreLimits
    from singer_tasks.settings import get_settings
    from singer_tasks.voices.loader import get_voice

    settings = get_settings()
    voice = get_voice("builtin", settings.voices_dir)
    plan = plan_song(score.read_bytes(), score.name, voice.manifest, ScoreLimits.from_settings(settings))
    once = render_phrases(plan.phrases, voice, options=RenderOptions(), min_duration_s=plan.score_duration_s)
    n = round(seconds * voice.sample_rate)
    song = np.resize(once, n).astype(np.float32)  # np.resize repeats the array to fill n samples
    return song, voice.sample_rate, len(once) / voice.sample_rate


def timed(encode: Encoder, samples: np.ndarray, rate: int, repeats: int) -> tuple[bytes, float]:
    """The encoded bytes and the median wall time of `repeats` encodes."""
    times, data = [], b""
    for _ in range(repeats):
        started = time.perf_counter()
        data = encode(samples, rate)
        times.append(time.perf_counter() - started)
    return data, statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    """Print one row per format: size, bitrate, share of the WAV, median encode time, realtime factor."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="song length (default 180 s)")
    parser.add_argument("--repeats", type=int, default=3, help="encodes per format (median reported)")
    parser.add_argument("--score", type=Path, default=DEFAULT_SCORE, help="score the built-in voice sings")
    args = parser.parse_args(argv or [])

    model, isa = cpu_description()
    flags = " ".join(f"{k}={'yes' if v else 'no'}" for k, v in isa.items())
    print(f"cpu: {model}, {os.cpu_count()} logical cpus; {flags}")
    started = time.perf_counter()
    samples, rate, once_s = sung_song(args.score, args.seconds)
    render_s = time.perf_counter() - started
    print(
        f"signal: built-in voice singing {args.score.name} ({once_s:.1f} s, rendered in {render_s:.1f} s), "
        f"repeated to {len(samples) / rate:.1f} s, mono {rate} Hz"
    )
    print(f"{'format':<6} {'bytes':>11} {'kbit/s':>8} {'of WAV':>7} {'encode s':>9} {'x realtime':>11}")
    wav_size = None
    seconds = len(samples) / rate
    for name, encode in FORMATS.items():
        data, encode_s = timed(encode, samples, rate, args.repeats)
        wav_size = wav_size or len(data)
        print(
            f"{name:<6} {len(data):>11,} {len(data) * 8 / seconds / 1000:>8.1f} {len(data) / wav_size:>7.1%} "
            f"{encode_s:>9.3f} {seconds / encode_s:>11.0f}"
        )


if __name__ == "__main__":
    main()
