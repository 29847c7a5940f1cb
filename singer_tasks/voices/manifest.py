"""Voices: `checkpoints/<voice>/voice.yaml` manifests, read without torch.

A manifest names a voice's files (relative to its folder) and its defaults:

    name: my-voice
    kind: diffsinger            # or builtin (no files at all)
    licence: CC BY-NC-SA 4.0    # shown to users; required for diffsinger voices
    languages: [zh]
    acoustic:
      checkpoint: acoustic/model.ckpt
      config: acoustic/config.yaml
      dictionaries: {zh: acoustic/dictionary.txt}
      speakers: {opencpop: 0}   # optional; else spk_map.json beside config.yaml
      speaker: opencpop         # optional; the first speaker otherwise
    vocoder:
      checkpoint: vocoder/model.ckpt
      config: vocoder/config.json   # optional; config.json beside the checkpoint
    defaults:
      steps: 20                 # optional; the experiment's sampling_steps otherwise
      depth: 0.4                # optional; 1 - T_start_infer (reflow) / K_step_infer / timesteps (ddpm)
      curves: {energy: -20.0, breathiness: -60.0, key_shift: 0.0, speed: 1.0}
      precision: auto           # exact (fp32, openvpi's output), fast (bf16), or auto (fast on bf16 CPUs)

Every curve the acoustic config enables (energy, breathiness, voicing, tension, key_shift, speed)
needs a default here; a phrase may override it per job with the .ds fields (`energy` +
`energy_timestep`, `gender`, `velocity`). `load_voice` (torch) lives in `singer_tasks.voices.loader`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from singer_tasks.errors import VoiceConfigError, VoiceNotFound
from singer_tasks.settings import get_settings

BUILTIN_VOICE = "builtin"
CURVE_NAMES = ("energy", "breathiness", "voicing", "tension", "key_shift", "speed")


def default_voices_dir() -> Path:
    """`$SINGER_VOICES_DIR`, else the repository's `checkpoints/` folder."""
    return get_settings().voices_dir


@dataclass(frozen=True)
class AcousticFiles:
    """The acoustic experiment's files, resolved to absolute paths."""

    checkpoint: Path
    config: Path
    dictionaries: Mapping[str, Path]
    extra_phonemes: tuple[str, ...] = ()
    speakers: Mapping[str, int] | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class VocoderFiles:
    """The NSF-HiFiGAN checkpoint and its config.json."""

    checkpoint: Path
    config: Path


@dataclass(frozen=True)
class VoiceDefaults:
    """Render settings used when a job does not choose them."""

    steps: int | None = None
    depth: float | None = None
    curves: Mapping[str, float] = field(default_factory=dict)
    precision: str = "auto"  # exact (fp32, openvpi's output), fast (bf16 autocast), auto (fast where the CPU has bf16)


@dataclass(frozen=True)
class VoiceManifest:
    """A parsed voice.yaml."""

    name: str
    kind: str
    folder: Path
    licence: str
    languages: tuple[str, ...]
    description: str = ""
    acoustic: AcousticFiles | None = None
    vocoder: VocoderFiles | None = None
    defaults: VoiceDefaults = field(default_factory=VoiceDefaults)


BUILTIN_MANIFEST = VoiceManifest(
    name=BUILTIN_VOICE,
    kind="builtin",
    folder=Path("."),
    licence="Apache-2.0 (weight-free DSP voice, part of this project)",
    languages=("en", "zh"),
    description="Built-in formant-synthesis voice; needs no weights.",
)


def _mapping(raw: Any, what: str, path: Path) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise VoiceConfigError(f"{path}: '{what}' must be a mapping")
    return raw


def _file(folder: Path, raw: Any, what: str, path: Path) -> Path:
    if not isinstance(raw, str) or not raw:
        raise VoiceConfigError(f"{path}: '{what}' must name a file (relative to {folder})")
    return (folder / raw).resolve()


def _acoustic(folder: Path, raw: dict[str, Any], path: Path) -> AcousticFiles:
    dictionaries = _mapping(raw.get("dictionaries"), "acoustic.dictionaries", path)
    if not dictionaries and "dictionary" in raw:
        dictionaries = {"default": raw["dictionary"]}
    if not dictionaries:
        raise VoiceConfigError(f"{path}: 'acoustic.dictionaries' must name at least one dictionary file")
    speakers = raw.get("speakers")
    if speakers is not None and not (isinstance(speakers, dict) and all(isinstance(v, int) for v in speakers.values())):
        raise VoiceConfigError(f"{path}: 'acoustic.speakers' must map speaker names to integer ids")
    return AcousticFiles(
        checkpoint=_file(folder, raw.get("checkpoint"), "acoustic.checkpoint", path),
        config=_file(folder, raw.get("config"), "acoustic.config", path),
        dictionaries={str(k): _file(folder, v, f"acoustic.dictionaries.{k}", path) for k, v in dictionaries.items()},
        extra_phonemes=tuple(str(p) for p in raw.get("extra_phonemes") or ()),
        speakers=speakers,
        speaker=None if raw.get("speaker") is None else str(raw["speaker"]),
    )


def _defaults(raw: dict[str, Any], path: Path) -> VoiceDefaults:
    curves = _mapping(raw.get("curves"), "defaults.curves", path)
    unknown = sorted(set(curves) - set(CURVE_NAMES))
    if unknown:
        raise VoiceConfigError(f"{path}: unknown curve(s) {unknown} in defaults.curves (known: {list(CURVE_NAMES)})")
    requested = str(raw.get("precision", "auto"))
    precision = {"fp32": "exact", "bf16": "fast"}.get(requested, requested)
    if precision not in ("exact", "fast", "auto"):
        raise VoiceConfigError(
            f"{path}: defaults.precision must be exact, fast or auto (or fp32 / bf16), got {raw.get('precision')!r}"
        )
    try:
        return VoiceDefaults(
            steps=None if raw.get("steps") is None else int(raw["steps"]),
            depth=None if raw.get("depth") is None else float(raw["depth"]),
            curves={k: float(v) for k, v in curves.items()},
            precision=precision,
        )
    except (TypeError, ValueError) as e:
        raise VoiceConfigError(f"{path}: bad value in 'defaults': {e}") from e


def parse_manifest(path: Path) -> VoiceManifest:
    """Read and check one voice.yaml (files are checked when the voice loads)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise VoiceConfigError(f"voice manifest {path} does not exist") from e
    except yaml.YAMLError as e:
        raise VoiceConfigError(f"voice manifest {path} is not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise VoiceConfigError(f"voice manifest {path} must be a YAML mapping")
    folder = path.parent
    kind = raw.get("kind", "diffsinger")
    if kind not in ("builtin", "diffsinger"):
        raise VoiceConfigError(f"{path}: kind must be 'builtin' or 'diffsinger', got {kind!r}")
    languages = raw.get("languages") or []
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise VoiceConfigError(f"{path}: 'languages' must be a list of language codes")
    licence = raw.get("licence") or raw.get("license")
    if kind == "diffsinger" and not licence:
        raise VoiceConfigError(f"{path}: a DiffSinger voice must state its weights' 'licence'")
    acoustic = vocoder = None
    if kind == "diffsinger":
        acoustic = _acoustic(folder, _mapping(raw.get("acoustic"), "acoustic", path), path)
        voc = _mapping(raw.get("vocoder"), "vocoder", path)
        checkpoint = _file(folder, voc.get("checkpoint"), "vocoder.checkpoint", path)
        config = _file(folder, voc["config"], "vocoder.config", path) if voc.get("config") else None
        vocoder = VocoderFiles(checkpoint=checkpoint, config=config or checkpoint.with_name("config.json"))
    return VoiceManifest(
        name=str(raw.get("name") or folder.name),
        kind=kind,
        folder=folder,
        licence=str(licence or BUILTIN_MANIFEST.licence),
        languages=tuple(languages) or (BUILTIN_MANIFEST.languages if kind == "builtin" else ()),
        description=str(raw.get("description") or ""),
        acoustic=acoustic,
        vocoder=vocoder,
        defaults=_defaults(_mapping(raw.get("defaults"), "defaults", path), path),
    )


def find_manifest(voice: str, root: Path | None = None) -> VoiceManifest:
    """The manifest of a voice by name (a folder under `root`) or by path to a folder or voice.yaml.

    The built-in voice needs no files: without `checkpoints/builtin/voice.yaml` it still loads.
    """
    candidate = Path(voice)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return parse_manifest(candidate)
    if (candidate / "voice.yaml").is_file():
        return parse_manifest(candidate / "voice.yaml")
    root = root or default_voices_dir()
    path = root / voice / "voice.yaml"
    if path.is_file():
        return parse_manifest(path)
    if voice == BUILTIN_VOICE:
        return BUILTIN_MANIFEST
    known = sorted(p.parent.name for p in root.glob("*/voice.yaml")) if root.is_dir() else []
    raise VoiceNotFound(f"no voice {voice!r}: {path} does not exist (voices under {root}: {known or 'none'})")
