"""`python -m singer_tasks`: one subcommand per function below; add one by writing `cmd_<name>` and
registering its parser in `build_parser` (heavy imports stay inside the command functions)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from singer_tasks.cli.account import add_parser as add_account_parser
from singer_tasks.cli.credits import add_parser as add_credits_parser
from singer_tasks.cli.render import add_parser as add_render_parser
from singer_tasks.cli.render import part_argument, verse_argument
from singer_tasks.cli.voices import add_parser as add_voices_parser
from singer_tasks.errors import SingerError

Command = Callable[[argparse.Namespace], int]


def cmd_ds(args: argparse.Namespace) -> int:
    """Score -> .ds file (the phrases openvpi's inference scripts read)."""
    from singer_tasks.phonemize import score_to_phrases
    from singer_tasks.phrase import dumps_ds
    from singer_tasks.score.read import parse_score

    source = Path(args.score)
    try:
        data = source.read_bytes()
    except OSError as e:
        print(f"error: cannot read {source}: {e.strerror or e}", file=sys.stderr)
        return 2
    score = parse_score(data, source.name, part=part_argument(args.part), verse=args.verse)
    phrases = score_to_phrases(score, language=args.language, dictionary=args.dictionary)
    Path(args.output).write_text(dumps_ds(phrases) + "\n", encoding="utf-8")
    for warning in score.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    seconds = sum(p.duration_s for p in phrases)
    print(f"wrote {args.output}: {len(phrases)} phrase(s), {seconds:.1f} s sung, part '{score.part_name}'")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand; each sets `func` to its command function."""
    parser = argparse.ArgumentParser(
        prog="python -m singer_tasks", description="The singing domain: scores to phrases and songs."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    ds = sub.add_parser("ds", help="write a score's phrases as an openvpi .ds file")
    ds.add_argument("score", help="MusicXML score: .musicxml, .xml or .mxl")
    ds.add_argument("-o", "--output", required=True, help="the .ds file to write")
    ds.add_argument(
        "--language", help="lyrics language: en zh ja de it la fr es haw (default: xml:lang, else detected per line)"
    )
    ds.add_argument(
        "--verse", type=verse_argument, default=1, help="verse to sing: a number (default 1) or a line's label"
    )
    ds.add_argument("--part", help="part to sing: number (from 1) or name (default: the part with lyrics)")
    ds.add_argument("--dictionary", help="a voice's dictionary file (default: the built-in voice's)")
    ds.set_defaults(func=cmd_ds)

    add_render_parser(sub)
    add_voices_parser(sub)
    add_credits_parser(sub)
    add_account_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; a bad score is reported on stderr with exit status 2."""
    args = build_parser().parse_args(argv)
    func: Command = args.func
    try:
        return func(args)
    except SingerError as e:
        print(f"error ({e.code}): {e}", file=sys.stderr)
        return 2
