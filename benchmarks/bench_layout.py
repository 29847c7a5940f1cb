"""The thread layout of a song's phrases on this machine's cores: one phrase at a time with an intra-op
thread per core ("one at a time"), or one phrase per core at once, one thread each ("one per core", what
the embedded stack's `--workers N` and a worker instance's request concurrency give).

Each layout renders the same phrases in fresh processes that load the same checkpoint folder (the
default-size random models bench_fast writes), warm up once, wait at a shared start line, then render;
the figure is the wall time from the start line to the last phrase done. Run from bench_fast with
`--layout` (its openvpi median of the same run gives the ratio); it prints figures and asserts nothing.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_WORKER = """
import json, sys, time
from pathlib import Path
import torch
from benchmarks.bench_voices import _acoustic_inputs
from singer_tasks.voices.diffsinger.acoustic.load import build_acoustic_model, read_config
from singer_tasks.voices.models import synthesize
from singer_tasks.voices.runtime import configure_torch
from singer_tasks.voices.vocoder.load import load_vocoder
configure_torch(threads={threads})
folder = Path({folder!r})
config = read_config(folder / "config.yaml")
model = build_acoustic_model(config, folder / "acoustic.ckpt", {vocab})
vocoder = load_vocoder(folder / {voc!r})
inputs = _acoustic_inputs(config, {seconds})
synthesize(model, vocoder, inputs, precision={precision!r})  # warm-up: kernels, allocator, int8 sessions
start_line = Path({start_line!r})
(start_line.parent / f"ready-{{{index}}}").touch()
while not start_line.exists():
    time.sleep(0.005)
for _ in range({phrases}):
    synthesize(model, vocoder, inputs, precision={precision!r})
print(json.dumps({{"done": time.time()}}))
"""


@dataclass(frozen=True)
class Layout:
    """`processes` renderers at once, `threads` intra-op threads each, `phrases` phrases each."""

    name: str
    processes: int
    threads: int
    phrases: int


def layouts(cores: int, phrases: int) -> list[Layout]:
    """One at a time (a process with a thread per core) and one per core (a process per core, one thread
    each), both rendering `phrases` phrases in all (a multiple of `cores`)."""
    return [
        Layout("one at a time", 1, cores, phrases),
        Layout("one per core", cores, 1, phrases // cores),
    ]


def song_seconds(layout: Layout, folder: Path, voc_rel: str, vocab: int, seconds: float, precision: str) -> float:
    """Wall time for `layout` to render its phrases, from a common start line to the last one done."""
    with tempfile.TemporaryDirectory() as tmp:
        start_line = Path(tmp) / "go"
        children = []
        for index in range(layout.processes):
            code = _WORKER.format(
                threads=layout.threads, folder=str(folder), vocab=vocab, voc=voc_rel, seconds=seconds,
                precision=precision, start_line=str(start_line), index=index, phrases=layout.phrases,
            )  # fmt: skip
            pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
            children.append(subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True, **pipes))
        while len(list(Path(tmp).glob("ready-*"))) < layout.processes:
            if any(child.poll() not in (None, 0) for child in children):
                break
            time.sleep(0.01)
        began = time.time()
        start_line.touch()
        finished = []
        for child in children:
            out, err = child.communicate()
            if child.returncode != 0:
                raise RuntimeError(f"layout worker failed: {err.strip().splitlines()[-1] if err.strip() else '?'}")
            finished.append(json.loads(out.strip().splitlines()[-1])["done"])
        return max(finished) - began


def report(
    folder: Path, voc_rel: str, vocab: int, seconds: float, precision: str, cores: int, repeats: int,
    openvpi_phrase_s: float | None,
) -> None:  # fmt: skip
    """Time both layouts `repeats` times, alternating, and print song throughput and the ratio to openvpi
    rendering the same phrases one after another (its own layout), from `openvpi_phrase_s` of this run."""
    phrases = 2 * cores
    candidates = layouts(cores, phrases)
    times: dict[str, list[float]] = {layout.name: [] for layout in candidates}
    for _ in range(repeats):
        for layout in candidates:
            times[layout.name].append(song_seconds(layout, folder, voc_rel, vocab, seconds, precision))
    print(f"\nthread layout, {phrases} phrases of {seconds:g} s on {cores} cores ({precision}):")
    base = statistics.median(times[candidates[0].name])
    for layout in candidates:
        med = statistics.median(times[layout.name])
        ratio = f", {phrases * openvpi_phrase_s / med:.2f}x openvpi one at a time" if openvpi_phrase_s else ""
        every = " ".join(f"{t:.2f}" for t in times[layout.name])
        print(
            f"  {layout.name:14} ({layout.processes} x {layout.threads} threads): {med:6.2f} s, RTF "
            f"{med / (phrases * seconds):.3f}, {base / med:.2f}x one at a time{ratio}  (every repeat: {every})"
        )
