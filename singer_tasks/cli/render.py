"""`python -m singer_tasks render SCORE -o OUT.wav [--voice V] [--expression voice|score] [--speaker S]`:
score -> phrases -> voice -> 16-bit WAV, in-process.

Prints one progress bar per stage (parse, phonemize, load voice, render, write) on stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from singer_tasks.errors import SingerError


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
    # torch and music21 load only when a render runs, not when the CLI parses its arguments.
    from singer_tasks.render.assembly import encode_wav
    from singer_tasks.render.pipeline import RenderOptions, render_phrases
    from singer_tasks.render.plan import plan_song
    from singer_tasks.score.limits import ScoreLimits
    from singer_tasks.settings import get_settings
    from singer_tasks.voices.loader import get_voice

    source = Path(args.score)
    try:
        data = source.read_bytes()
    except OSError as e:
        print(f"error: cannot read {source}: {e.strerror or e}", file=sys.stderr)
        return 2
    settings = get_settings()
    bar = ProgressBar()
    try:
        bar("voice", 0.0)
        voice = get_voice(args.voice, settings.voices_dir)
        bar("voice", 1.0)
        bar("parse", 0.0)
        plan = plan_song(data, source.name, voice.manifest, ScoreLimits.from_settings(settings),
                         language=args.language, verse=args.verse, part=part_argument(args.part))  # fmt: skip
        bar("parse", 1.0)
        options = RenderOptions(steps=args.steps, expression=args.expression, speaker=args.speaker)
        song = render_phrases(plan.phrases, voice, options=options, progress=lambda s, f: bar("render", f),
                              min_duration_s=plan.score_duration_s)  # fmt: skip
        bar("write", 0.0)
        Path(args.output).write_bytes(encode_wav(song, voice.sample_rate))
        bar("write", 1.0)
    except SingerError as e:
        bar.finish()
        print(f"error ({e.code}): {e}", file=sys.stderr)
        return 2
    bar.finish()
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    seconds = len(song) / voice.sample_rate
    print(f"wrote {args.output}: {seconds:.1f} s, {len(plan.phrases)} phrase(s), voice '{voice.name}'")
    return 0


def verse_argument(raw: str) -> int | str:
    """`--verse`: a 1-based number, or a lyric line's label as the score writes it ("1translation", "chorus")."""
    return int(raw) if raw.isdigit() else raw


def part_argument(raw: str | None) -> int | str | None:
    """`--part`: a 1-based number or a part's name."""
    return int(raw) if raw and raw.isdigit() else raw


def add_parser(sub: Any) -> None:
    """Register `render` on the CLI's subparsers."""
    render = sub.add_parser("render", help="sing a score to a WAV file with a voice")
    render.add_argument("score", help="MusicXML score: .musicxml, .xml or .mxl")
    render.add_argument("-o", "--output", required=True, help="the .wav file to write")
    render.add_argument(
        "--voice", default="builtin",
        help="voice name (see `voices list`), a voice folder, or an OpenUtau voicebank folder or .zip",
    )  # fmt: skip
    render.add_argument(
        "--expression", choices=["voice", "score"],
        help="voice: the voice's own timing and pitch models (the default where it has them); score: as written",
    )  # fmt: skip
    render.add_argument("--speaker", help="speaker (subbank) of a multi-speaker voice (default: its first)")
    render.add_argument(
        "--language", help="lyrics language: en zh ja de it la fr es haw (default: xml:lang, else detected per line)"
    )
    render.add_argument("--steps", type=int, help="sampler steps (default: the voice's)")
    render.add_argument(
        "--verse", type=verse_argument, default=1, help="verse to sing: a number (default 1) or a line's label"
    )
    render.add_argument("--part", help="part to sing: number (from 1) or name (default: the part with lyrics)")
    render.set_defaults(func=run_render)
