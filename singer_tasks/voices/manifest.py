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
      precision: auto           # exact (fp32, openvpi's output), fast (bf16/int8 per stage and CPU), or auto

    variance:                   # optional: an openvpi variance experiment (duration, pitch, curves)
      checkpoint: variance/model.ckpt
      config: variance/config.yaml
      dictionaries: {zh: variance/dictionary.txt}
      spk_map: variance/spk_map.json   # optional; multi-speaker variance models
      speaker: opencpop         # optional; the first speaker otherwise

Every curve the acoustic config enables (energy, breathiness, voicing, tension, key_shift, speed)
needs a default here unless the variance model predicts it; a phrase may override it per job with the
.ds fields (`energy` + `energy_timestep`, `gender`, `velocity`).

OpenUtau DiffSinger voicebanks need no voice.yaml: a folder holding character.txt (or a .zip of one)
under the voices dir is the voice `kind: voicebank`, named by its character.txt. A voice.yaml may still
wrap one to override what is guessed (``kind: voicebank``, ``voicebank: path/to/folder-or.zip``,
``languages``, ``licence``). `load_voice` (torch / onnxruntime) lives in `singer_tasks.voices.loader`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from singer_tasks.errors import VoiceConfigError, VoiceNotFound
from singer_tasks.settings import get_settings
from singer_tasks.voices.bankinfo import BankInfo, is_voicebank, read_bank
from singer_tasks.voices.files import read_mapping

BUILTIN_VOICE = "builtin"
KINDS = ("builtin", "diffsinger", "voicebank")
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
class VarianceFiles:
    """An openvpi variance experiment: checkpoint, config, dictionaries, optional speaker map."""

    checkpoint: Path
    config: Path
    dictionaries: Mapping[str, Path]
    spk_map: Path | None = None
    speaker: str | None = None


@dataclass(frozen=True)
class VoiceDefaults:
    """Render settings used when a job does not choose them."""

    steps: int | None = None
    depth: float | None = None
    curves: Mapping[str, float] = field(default_factory=dict)
    precision: str = "auto"  # exact (fp32, openvpi's output), fast (runtime.precision_for_cpu), or auto


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
    variance: VarianceFiles | None = None
    bank: BankInfo | None = None  # kind voicebank: the voicebank (folder holding character.txt, or .zip)

    @property
    def speakers(self) -> tuple[str, ...]:
        """Speaker names a job may choose (the first is the default); () for single-speaker voices."""
        if self.bank is not None:
            return self.bank.speakers
        if self.acoustic is not None and self.acoustic.speakers:
            names = tuple(self.acoustic.speakers)
            chosen = self.acoustic.speaker
            return (chosen, *[n for n in names if n != chosen]) if chosen in names else names
        return ()


BUILTIN_MANIFEST = VoiceManifest(
    name=BUILTIN_VOICE,
    kind="builtin",
    folder=Path("."),
    licence="Apache-2.0 (weight-free DSP voice, part of this project)",
    languages=("en", "zh", "ja", "de", "it", "la", "fr", "es", "haw"),
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


def _variance(folder: Path, raw: dict[str, Any], path: Path) -> VarianceFiles:
    dictionaries = _mapping(raw.get("dictionaries"), "variance.dictionaries", path)
    if not dictionaries and "dictionary" in raw:
        dictionaries = {"default": raw["dictionary"]}
    if not dictionaries:
        raise VoiceConfigError(f"{path}: 'variance.dictionaries' must name at least one dictionary file")
    spk_map = raw.get("spk_map")
    return VarianceFiles(
        checkpoint=_file(folder, raw.get("checkpoint"), "variance.checkpoint", path),
        config=_file(folder, raw.get("config"), "variance.config", path),
        dictionaries={str(k): _file(folder, v, f"variance.dictionaries.{k}", path) for k, v in dictionaries.items()},
        spk_map=None if spk_map is None else _file(folder, spk_map, "variance.spk_map", path),
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
    raw = read_mapping(path, "voice manifest")
    folder = path.parent
    kind = raw.get("kind", "diffsinger")
    if kind not in KINDS:
        raise VoiceConfigError(f"{path}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    languages = raw.get("languages") or []
    if not isinstance(languages, list) or not all(isinstance(x, str) for x in languages):
        raise VoiceConfigError(f"{path}: 'languages' must be a list of language codes")
    licence = raw.get("licence") or raw.get("license")
    if kind == "voicebank":
        base = bank_manifest(_file(folder, raw.get("voicebank"), "voicebank", path))
        return VoiceManifest(
            name=str(raw.get("name") or base.name), kind="voicebank", folder=base.folder,
            licence=str(licence or base.licence), languages=tuple(languages) or base.languages,
            description=str(raw.get("description") or base.description),
            defaults=_defaults(_mapping(raw.get("defaults"), "defaults", path), path), bank=base.bank,
        )  # fmt: skip
    if kind == "diffsinger" and not licence:
        raise VoiceConfigError(f"{path}: a DiffSinger voice must state its weights' 'licence'")
    acoustic = vocoder = None
    if kind == "diffsinger":
        acoustic = _acoustic(folder, _mapping(raw.get("acoustic"), "acoustic", path), path)
        voc = _mapping(raw.get("vocoder"), "vocoder", path)
        checkpoint = _file(folder, voc.get("checkpoint"), "vocoder.checkpoint", path)
        config = _file(folder, voc["config"], "vocoder.config", path) if voc.get("config") else None
        vocoder = VocoderFiles(checkpoint=checkpoint, config=config or checkpoint.with_name("config.json"))
    variance = None
    if kind == "diffsinger" and raw.get("variance") is not None:
        variance = _variance(folder, _mapping(raw.get("variance"), "variance", path), path)
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
        variance=variance,
    )


def bank_manifest(source: Path) -> VoiceManifest:
    """The manifest of an OpenUtau voicebank (folder or .zip), read from its own text files."""
    bank = read_bank(source)
    return VoiceManifest(
        name=bank.name, kind="voicebank", folder=source.resolve(), licence=bank.licence, languages=bank.languages,
        description=bank.description, bank=bank,
    )  # fmt: skip


def _voicebanks(root: Path) -> list[Path]:
    """Voicebank folders and zips directly under `root`."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if not p.name.startswith(".") and is_voicebank(p))


def local_manifests(root: Path) -> list[VoiceManifest]:
    """Every voice under `root`: voice.yaml folders, voicebank folders and zips (broken ones skipped)."""
    found: list[VoiceManifest] = []
    for path in sorted(root.glob("*/voice.yaml")) if root.is_dir() else []:
        try:
            found.append(parse_manifest(path))
        except VoiceConfigError:
            continue
    wrapped = {m.folder for m in found if m.bank is not None}
    for source in _voicebanks(root):
        if (source / "voice.yaml").is_file() or source.resolve() in wrapped:
            continue
        try:
            found.append(bank_manifest(source))
        except VoiceConfigError:
            continue
    return found


def find_manifest(voice: str, root: Path | None = None) -> VoiceManifest:
    """The manifest of a voice by name (a folder under `root`) or by path to a folder or voice.yaml.

    The built-in voice needs no files: without `checkpoints/builtin/voice.yaml` it still loads.
    """
    candidate = Path(voice)
    if candidate.suffix in (".yaml", ".yml") and candidate.is_file():
        return parse_manifest(candidate)
    if (candidate / "voice.yaml").is_file():
        return parse_manifest(candidate / "voice.yaml")
    if (candidate.is_absolute() or len(candidate.parts) > 1) and is_voicebank(candidate):
        return bank_manifest(candidate)
    root = root or default_voices_dir()
    path = root / voice / "voice.yaml"
    if path.is_file():
        return parse_manifest(path)
    for source in (root / voice, root / f"{voice}.zip"):
        if "/" not in voice and is_voicebank(source):
            return bank_manifest(source)
    if voice == BUILTIN_VOICE:
        return BUILTIN_MANIFEST
    # A voicebank is known to users by its character.txt name, not its folder's.
    voices = local_manifests(root)
    for exact in (True, False):
        named = [m for m in voices if (m.name == voice if exact else m.name.casefold() == voice.casefold())]
        if named:
            return named[0]
    known = sorted({m.name for m in voices})
    raise VoiceNotFound(f"no voice {voice!r} under {root} (voices there: {', '.join(known) or 'none'})")
