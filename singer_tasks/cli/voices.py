"""`python -m singer_tasks voices list|check|add|prepare`: the voices this installation can sing with.

- ``list``: every voice (name as users know it, kind, languages, speakers, stages).
- ``check PATH``: load a voicebank folder / .zip or an openvpi voice folder (voice.yaml) completely, every
  graph and checkpoint, and print what was found, or the error naming the file and key (exit status 2).
- ``add PATH``: check, then copy the folder or zip into the voices dir; an existing name is never overwritten.
- ``prepare [NAME ...]``: build what a DiffSinger voice's int8 render reads from the voice cache (its
  vocoder's int8 network and, for a LYNXNet2 denoiser, the denoiser's: about 15 s at the default size),
  so a worker does not build them at start; they run on any CPU, so an image build can prepare them
  (deploy/worker.Dockerfile does).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from singer_tasks.errors import VoiceConfigError


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def cmd_list(args: argparse.Namespace) -> int:
    """Print the voices as a table."""
    from singer_tasks.settings import get_settings
    from singer_tasks.voices.catalog import list_voices

    rows = [["NAME", "KIND", "LANGUAGES", "SPEAKERS", "STAGES"]]
    for info in list_voices(get_settings()):
        rows.append([info.name, info.kind, ",".join(info.languages) or "-", ",".join(info.speakers) or "-",
                     ",".join(info.stages)])  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(_row(row, widths))
    return 0


def check_voice(path: Path) -> Any:
    """Load the voice at `path` completely (every graph / checkpoint) and its lyrics dictionary; the VoiceInfo."""
    from singer_tasks.render.plan import phonemizer_dictionary
    from singer_tasks.voices.catalog import describe
    from singer_tasks.voices.loader import voice_from_manifest
    from singer_tasks.voices.manifest import find_manifest

    if not path.exists():
        raise VoiceConfigError(f"{path}: no such file or folder")
    manifest = find_manifest(str(path.resolve()))
    if manifest.kind == "builtin":
        raise VoiceConfigError(f"{path}: the built-in voice needs no check")
    voice = voice_from_manifest(manifest)
    dictionary = phonemizer_dictionary(manifest)
    info = describe(manifest)
    languages = dictionary.languages if dictionary is not None else info.languages
    return info, voice, languages


def cmd_check(args: argparse.Namespace) -> int:
    """Validate a voice; exit status 2 (from main) with the error naming file and key."""
    info, voice, languages = check_voice(Path(args.path))
    print(f"ok: {info.name} ({info.kind}) at {info.folder}")
    print(f"  languages: {', '.join(languages) or '-'}")
    print(f"  speakers:  {', '.join(voice.speakers) or '- (single speaker)'}")
    print(f"  stages:    {' -> '.join(voice.chain.stages)}")
    print(f"  sample rate: {voice.sample_rate} Hz")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    """Check a voice, then copy it into the voices dir under its folder / zip name."""
    from singer_tasks.settings import get_settings
    from singer_tasks.voices.catalog import list_voices

    source = Path(args.path).resolve()
    info, _, _ = check_voice(source)
    settings = get_settings()
    target = settings.voices_dir / source.name
    taken = {v.name for v in list_voices(settings)}
    if info.name in taken:
        print(f"error: a voice named {info.name!r} is already installed; remove it first", file=sys.stderr)
        return 2
    if target.exists():
        print(f"error: {target} already exists; rename {source.name} or remove the other", file=sys.stderr)
        return 2
    settings.voices_dir.mkdir(parents=True, exist_ok=True)
    tmp = settings.voices_dir / f".adding-{source.name}"
    try:
        if source.is_dir():
            shutil.copytree(source, tmp)
        else:
            shutil.copyfile(source, tmp)
        tmp.rename(target)  # whole or not at all: a half-copied voice is never listed
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
    print(f"added {info.name!r} as {target}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Build the int8 vocoder network and denoiser of every DiffSinger voice named (all installed ones by
    default)."""
    from singer_tasks.settings import get_settings
    from singer_tasks.voices.catalog import list_voices
    from singer_tasks.voices.loader import load_voice
    from singer_tasks.voices.models import vocoder_network

    settings = get_settings()
    installed = {info.name: info for info in list_voices(settings)}
    unknown = sorted(set(args.names) - set(installed))
    if unknown:
        print(f"error: no installed voice named {', '.join(map(repr, unknown))}", file=sys.stderr)
        return 2
    for name in args.names or sorted(installed):
        if installed[name].kind != "diffsinger":
            print(f"{name}: {installed[name].kind}, nothing to prepare")
            continue
        voice: Any = load_voice(installed[name].folder)
        network = vocoder_network(voice.vocoder, "int8")
        where = network.model_path if network is not None else "none (this vocoder stays in float)"
        print(f"{name}: int8 vocoder network {where}")
        session = getattr(voice.model.int8_backbone(), "session", None)
        where = session.model_path if session is not None else "none (torch's own int8, made in memory)"
        print(f"{name}: int8 denoiser {where}")
    return 0


def add_parser(sub: Any) -> None:
    """Register `voices` (list, check, add) on the CLI's subparsers."""
    voices = sub.add_parser("voices", help="list, check and install voices")
    actions = voices.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the voices installed (name, kind, languages, speakers, stages)")
    listing.set_defaults(func=cmd_list)
    check = actions.add_parser("check", help="load a voicebank folder/.zip or an openvpi voice folder completely")
    check.add_argument("path", help="an OpenUtau voicebank folder or .zip, or a folder with voice.yaml")
    check.set_defaults(func=cmd_check)
    add = actions.add_parser("add", help="check a voice, then copy it into the voices dir")
    add.add_argument("path", help="an OpenUtau voicebank folder or .zip, or a folder with voice.yaml")
    add.set_defaults(func=cmd_add)
    prepare = actions.add_parser("prepare", help="build the voices' int8 vocoders and denoisers into the voice cache")
    prepare.add_argument("names", nargs="*", help="voice names (default: every installed DiffSinger voice)")
    prepare.set_defaults(func=cmd_prepare)
