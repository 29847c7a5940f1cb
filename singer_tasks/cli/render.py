"""`python -m singer_tasks render SCORE -o OUT.wav`: score -> phrases -> voice -> 16-bit WAV, in-process.

Prints one progress bar per stage (parse, phonemize, load voice, render, write) on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from singer_tasks.errors import VoiceError


def write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    """Mono 16-bit PCM WAV of float samples in [-1, 1]."""
    from singer_tasks.render.job import encode_wav

    path.write_bytes(encode_wav(samples, sample_rate))


class ProgressBar:
    """A one-line text bar per stage on a stream (redrawn in place on a terminal)."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.stage = ""
        self.started = time.monotonic()
        self.last_draw = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if stage != self.stage:
            if self.stage:
                self.stream.write("\n")
            self.stage, self.started, self.last_draw = stage, now, 0.0
        if fraction < 1.0 and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        filled = int(self.width * min(max(fraction, 0.0), 1.0))
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{stage:<10} [{bar}] {fraction * 100:5.1f}% {now - self.started:6.1f}s")
        self.stream.flush()

    def finish(self) -> None:
        """End the last bar's line."""
        if self.stage:
            self.stream.write("\n")
            self.stream.flush()


def run_render(args: argparse.Namespace) -> int:
    """The `render` subcommand; returns the exit status."""
    from singer_tasks.phonemize import score_to_phrases
    from singer_tasks.render.job import phonemizer_dictionary
    from singer_tasks.render.pipeline import render_phrases
    from singer_tasks.score.read import parse_score
    from singer_tasks.voices.runtime import get_voice

    source = Path(args.score)
    try:
        data = source.read_bytes()
    except OSError as e:
        print(f"error: cannot read {source}: {e.strerror or e}", file=sys.stderr)
        return 2
    bar = ProgressBar()
    try:
        bar("parse", 0.0)
        score = parse_score(data, source.name)
        bar("parse", 1.0)
        bar("voice", 0.0)
        voice = get_voice(args.voice)
        bar("voice", 1.0)
        bar("phonemize", 0.0)
        phrases = score_to_phrases(score, language=args.language, dictionary=phonemizer_dictionary(voice.manifest))
        bar("phonemize", 1.0)
        song = render_phrases(phrases, voice, steps=args.steps, progress=lambda s, f: bar("render", f))
        bar("write", 0.0)
        write_wav(Path(args.output), song, voice.sample_rate)
        bar("write", 1.0)
    except VoiceError as e:
        bar.finish()
        print(f"error: {e}", file=sys.stderr)
        return 2
    bar.finish()
    for warning in score.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"wrote {args.output}: {len(song) / voice.sample_rate:.1f} s, {len(phrases)} phrase(s), voice '{voice.name}'")
    return 0


def add_parser(sub: Any) -> None:
    """Register `render` on the CLI's subparsers."""
    render = sub.add_parser("render", help="sing a score to a WAV file with a voice")
    render.add_argument("score", help="MusicXML score: .musicxml, .xml or .mxl")
    render.add_argument("-o", "--output", required=True, help="the .wav file to write")
    render.add_argument("--voice", default="builtin", help="voice name under checkpoints/ or a voice folder")
    render.add_argument("--language", choices=["en", "zh"], help="lyrics language (default: guessed)")
    render.add_argument("--steps", type=int, help="sampler steps (default: the voice's)")
    render.set_defaults(func=run_render)
