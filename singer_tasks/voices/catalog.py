"""The voices a user can choose, described from their text files only (no numpy, torch or onnxruntime).

The API imports this module to list voices, so it reads only voice.yaml, character.txt/.yaml, dsconfig.yaml,
configs and licence texts (from a voicebank folder or straight from its .zip), never a graph or checkpoint.
The built-in voice is always listed. A voice whose files are broken is left out of the list (`voices check`
names the problem); `voice_info` of such a voice raises VoiceConfigError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from singer_tasks.errors import VoiceConfigError, VoiceNotFound
from singer_tasks.settings import SingerSettings
from singer_tasks.voices.manifest import BUILTIN_MANIFEST, VoiceManifest, find_manifest, local_manifests
from singer_tasks.voices.remote import remote_dir


@dataclass(frozen=True)
class VoiceInfo:
    """A voice as users see it. `stages` are the chain stages it has its own models for (duration, pitch,
    variance, acoustic, vocoder); `speakers` what a job may name (the first is the default)."""

    name: str
    kind: str
    author: str | None
    description: str
    languages: tuple[str, ...]
    speakers: tuple[str, ...]
    stages: tuple[str, ...]
    licence: str
    portrait: Path | None
    folder: Path

    @property
    def expressive(self) -> bool:
        """Whether expression `voice` differs from `score` (the voice has duration or pitch models)."""
        return "duration" in self.stages or "pitch" in self.stages


def _variance_stages(manifest: VoiceManifest) -> tuple[str, ...]:
    if manifest.variance is None:
        return ()
    try:
        raw = yaml.safe_load(manifest.variance.config.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise VoiceConfigError(f"{manifest.variance.config}: cannot read the variance config ({e})") from e
    variance = any(raw.get(f"predict_{n}") for n in ("energy", "breathiness", "voicing", "tension"))
    flags = (("duration", raw.get("predict_dur", True)), ("pitch", raw.get("predict_pitch")), ("variance", variance))
    return tuple(name for name, on in flags if on)


def _diffsinger_speakers(manifest: VoiceManifest) -> tuple[str, ...]:
    if manifest.speakers or manifest.acoustic is None:
        return manifest.speakers
    spk_map = manifest.acoustic.config.with_name("spk_map.json")
    try:
        names = list(json.loads(spk_map.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return ()
    chosen = manifest.acoustic.speaker
    return tuple([chosen, *[n for n in names if n != chosen]] if chosen in names else names)


def describe(manifest: VoiceManifest) -> VoiceInfo:
    """A manifest as a VoiceInfo."""
    bank = manifest.bank
    if bank is not None:
        return VoiceInfo(
            name=manifest.name, kind="voicebank", author=bank.author, description=manifest.description,
            languages=manifest.languages, speakers=bank.speakers, stages=bank.stages, licence=manifest.licence,
            portrait=bank.portrait, folder=manifest.folder,
        )  # fmt: skip
    stages = ("acoustic", "vocoder") if manifest.kind == "builtin" else (*_variance_stages(manifest), "acoustic",
                                                                         "vocoder")  # fmt: skip
    portrait = manifest.folder / "portrait.png" if manifest.kind != "builtin" else None
    return VoiceInfo(
        name=manifest.name, kind=manifest.kind, author=None, description=manifest.description,
        languages=manifest.languages, speakers=_diffsinger_speakers(manifest), stages=stages,
        licence=manifest.licence, portrait=portrait if portrait is not None and portrait.is_file() else None,
        folder=manifest.folder,
    )  # fmt: skip


def list_voices(settings: SingerSettings) -> list[VoiceInfo]:
    """Every voice: the built-in one first, then those under the voices dir and those fetched from the bucket."""
    manifests = [*local_manifests(settings.voices_dir), *local_manifests(remote_dir(settings.voice_cache_dir))]
    seen = {BUILTIN_MANIFEST.name}
    builtin = next((m for m in manifests if m.name == BUILTIN_MANIFEST.name), BUILTIN_MANIFEST)
    out = [describe(builtin)]
    for manifest in sorted(manifests, key=lambda m: m.name.casefold()):
        if manifest.name in seen:
            continue
        try:
            out.append(describe(manifest))
        except VoiceConfigError:
            continue
        seen.add(manifest.name)
    return out


def voice_info(name: str, settings: SingerSettings) -> VoiceInfo:
    """One voice by name (VoiceNotFound naming the voices there are)."""
    try:
        return describe(find_manifest(name, settings.voices_dir))
    except VoiceNotFound:
        cached = remote_dir(settings.voice_cache_dir)
        for manifest in local_manifests(cached):
            if manifest.name == name:
                return describe(manifest)
        raise
