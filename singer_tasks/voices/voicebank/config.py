"""Typed readers of a voicebank's YAML files: dsconfig.yaml, vocoder.yaml, character.yaml / character.txt.

OpenUtau deserialises these with YamlDotNet (underscored names, unmatched properties ignored) into classes whose
field initialisers are the defaults used here. We are stricter where OpenUtau would go on and misbehave:

- a value of the wrong type is refused (YamlDotNet would throw, or worse coerce);
- a key OpenUtau needs for the file's role (``acoustic``, ``phonemes``, ``vocoder`` at the root; ``linguistic``
  and the folder's own model in dsdur/dspitch/dsvariance; ``languages`` when ``use_lang_id``; the pitch-shift
  range when ``use_key_shift_embed``; ``max_depth`` when the depth is variable) must be present;
- an unknown key is ignored, as OpenUtau ignores it, because real voicebanks carry export-time extras; but an
  unknown key that is a near-miss of a known one (``use_energy_embeds``, ``maxdepth``) is refused: OpenUtau would
  silently fall back to the default and render something else than the author meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from singer_tasks.errors import VoiceConfigError

# Kinds of values a key may hold; "str" also accepts an int or float scalar (YAML reads `mel_base: 10` as an int,
# YamlDotNet reads it as the string "10").
_KINDS = ("bool", "int", "float", "str", "strlist", "mapping")

# dsconfig.yaml: OpenUtau's DsConfig fields (one class for every folder) with their defaults.
DSCONFIG_KEYS: dict[str, tuple[str, Any]] = {
    "phonemes": ("str", "phonemes.txt"),
    "languages": ("str", None),
    "use_lang_id": ("bool", False),
    "acoustic": ("str", None),
    "vocoder": ("str", None),
    "speakers": ("strlist", None),
    "hidden_size": ("int", 256),
    "use_key_shift_embed": ("bool", False),
    "use_speed_embed": ("bool", False),
    "use_energy_embed": ("bool", False),
    "use_breathiness_embed": ("bool", False),
    "use_voicing_embed": ("bool", False),
    "use_tension_embed": ("bool", False),
    "augmentation_args": ("mapping", None),
    "use_continuous_acceleration": ("bool", False),
    "use_shallow_diffusion": ("bool", None),
    "use_variable_depth": ("bool", None),
    "max_depth": ("float", None),
    "dur": ("str", None),
    "linguistic": ("str", None),
    "pitch": ("str", None),
    "variance": ("str", None),
    "predict_dur": ("bool", True),
    "predict_energy": ("bool", True),
    "predict_breathiness": ("bool", True),
    "predict_voicing": ("bool", False),
    "predict_tension": ("bool", False),
    "use_expr": ("bool", False),
    "use_note_rest": ("bool", False),
    "sample_rate": ("int", 44100),
    "hop_size": ("int", 512),
    "win_size": ("int", 2048),
    "fft_size": ("int", 2048),
    "num_mel_bins": ("int", 128),
    "mel_fmin": ("float", 40.0),
    "mel_fmax": ("float", 16000.0),
    "mel_base": ("str", "10"),
    "mel_scale": ("str", "slaney"),
}

VOCODER_KEYS: dict[str, tuple[str, Any]] = {
    "name": ("str", "vocoder"),
    "model": ("str", "model.onnx"),
    "sample_rate": ("int", 44100),
    "hop_size": ("int", 512),
    "win_size": ("int", 2048),
    "fft_size": ("int", 2048),
    "num_mel_bins": ("int", 128),
    "mel_fmin": ("float", 40.0),
    "mel_fmax": ("float", 16000.0),
    "mel_base": ("str", "10"),
    "mel_scale": ("str", "slaney"),
    "pitch_controllable": ("bool", False),
    "force_on_cpu": ("bool", False),
}

CHARACTER_KEYS: dict[str, tuple[str, Any]] = {
    "name": ("str", None),
    "image": ("str", None),
    "portrait": ("str", None),
    "portrait_opacity": ("float", None),
    "portrait_height": ("int", None),
    "author": ("str", None),
    "voice": ("str", None),
    "web": ("str", None),
    "version": ("str", None),
    "sample": ("str", None),
    "other_info": ("str", None),
    "default_phonemizer": ("str", None),
    "singer_type": ("str", None),
    "text_file_encoding": ("str", None),
    "subbanks": ("list", None),
}

# Which keys each dsconfig.yaml role needs before OpenUtau can use it.
_REQUIRED_BY_ROLE = {
    "acoustic": ("phonemes", "acoustic", "vocoder"),
    "dur": ("phonemes", "linguistic", "dur"),
    "pitch": ("phonemes", "linguistic", "pitch"),
    "variance": ("phonemes", "linguistic", "variance"),
}

VARIANCE_NAMES = ("energy", "breathiness", "voicing", "tension")


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; any failure is a VoiceConfigError naming the file."""
    if not path.is_file():
        raise VoiceConfigError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise VoiceConfigError(f"{path}: not valid UTF-8 YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise VoiceConfigError(f"{path}: expected a mapping of keys at the top level, got {type(data).__name__}")
    return data


def _coerce(path: Path, key: str, kind: str, value: Any) -> Any:
    """Check one value against its kind; the message names the file and the key."""
    if value is None:
        return None
    ok: bool
    if kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind == "str":
        ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        value = str(value) if ok else value
    elif kind == "strlist":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    elif kind == "list":
        ok = isinstance(value, list)
    else:
        ok = isinstance(value, dict)
    if not ok:
        raise VoiceConfigError(f"{path}: key {key!r} must be a {kind}, got {value!r} ({type(value).__name__})")
    return value


def parse_keys(
    path: Path, data: Mapping[str, Any], schema: Mapping[str, tuple[str, Any]]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Type-check `data` against `schema`; return (values with defaults, ignored unknown keys).

    Null values fall back to the default, as a missing key does.
    """
    values: dict[str, Any] = {}
    for key, (kind, default) in schema.items():
        value = _coerce(path, key, kind, data.get(key))
        values[key] = default if value is None else value
    ignored: list[str] = []
    for key in data:
        if key in schema:
            continue
        close = difflib.get_close_matches(str(key), list(schema), n=1, cutoff=0.85)
        if close:
            raise VoiceConfigError(f"{path}: unknown key {key!r} (did you mean {close[0]!r}? OpenUtau would ignore it)")
        ignored.append(str(key))
    return values, tuple(ignored)


@dataclass(frozen=True)
class DsConfig:
    """One dsconfig.yaml (the root acoustic one, or dsdur/, dspitch/, dsvariance/), OpenUtau defaults filled in."""

    path: Path
    phonemes: str
    languages: str | None
    use_lang_id: bool
    acoustic: str | None
    vocoder: str | None
    speakers: tuple[str, ...] | None
    hidden_size: int
    use_key_shift_embed: bool
    use_speed_embed: bool
    use_energy_embed: bool
    use_breathiness_embed: bool
    use_voicing_embed: bool
    use_tension_embed: bool
    key_shift_range: tuple[float, float] | None
    use_continuous_acceleration: bool
    use_variable_depth: bool
    max_depth_raw: float | None
    dur: str | None
    linguistic: str | None
    pitch: str | None
    variance: str | None
    predict_dur: bool
    predict_energy: bool
    predict_breathiness: bool
    predict_voicing: bool
    predict_tension: bool
    use_expr: bool
    use_note_rest: bool
    sample_rate: int
    hop_size: int
    win_size: int
    fft_size: int
    num_mel_bins: int
    mel_fmin: float
    mel_fmax: float
    mel_base: str
    mel_scale: str
    ignored_keys: tuple[str, ...] = field(default=())

    @property
    def folder(self) -> Path:
        """The folder every file name in this config is relative to."""
        return self.path.parent

    @property
    def frame_ms(self) -> float:
        """Milliseconds per frame (OpenUtau computes it in float32; float64 here, equal to 1e-7 ms)."""
        return 1000.0 * self.hop_size / self.sample_rate

    @property
    def max_depth(self) -> float:
        """OpenUtau's maxDepth: a fraction with continuous acceleration, else K steps divided by 1000."""
        raw = self.max_depth_raw or 0.0
        return raw if self.use_continuous_acceleration else raw / 1000.0

    @property
    def variance_embeds(self) -> tuple[str, ...]:
        """The variance curves the acoustic model takes, in OpenUtau's order."""
        flags = (self.use_energy_embed, self.use_breathiness_embed, self.use_voicing_embed, self.use_tension_embed)
        return tuple(name for name, on in zip(VARIANCE_NAMES, flags, strict=True) if on)

    @property
    def predicted_variances(self) -> tuple[str, ...]:
        """The curves a variance model predicts (energy, breathiness, voicing, tension order)."""
        flags = (self.predict_energy, self.predict_breathiness, self.predict_voicing, self.predict_tension)
        return tuple(name for name, on in zip(VARIANCE_NAMES, flags, strict=True) if on)


def _key_shift_range(path: Path, augmentation: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """augmentation_args.random_pitch_shifting.range as two floats, or None when absent."""
    if augmentation is None:
        return None
    shifting = _coerce(
        path, "augmentation_args.random_pitch_shifting", "mapping", augmentation.get("random_pitch_shifting")
    )
    if shifting is None or shifting.get("range") is None:
        return None
    key = "augmentation_args.random_pitch_shifting.range"
    rng = shifting["range"]
    if not (
        isinstance(rng, list)
        and len(rng) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in rng)
    ):
        raise VoiceConfigError(f"{path}: key {key!r} must be a list of two numbers, got {rng!r}")
    return float(rng[0]), float(rng[1])


def _check_role(cfg: DsConfig, role: str) -> None:
    """Refuse a config that lacks what OpenUtau needs for this role (it would fail or misbehave at render)."""
    for key in _REQUIRED_BY_ROLE[role]:
        if not getattr(cfg, key):
            raise VoiceConfigError(f"{cfg.path}: key {key!r} is required (non-empty) in a {role} dsconfig.yaml")
    if cfg.use_lang_id and not cfg.languages:
        raise VoiceConfigError(f"{cfg.path}: key 'languages' is required when 'use_lang_id' is true")
    if cfg.speakers is not None and len(cfg.speakers) == 0:
        raise VoiceConfigError(f"{cfg.path}: key 'speakers' is an empty list (omit it for a single-speaker model)")
    for key in ("hidden_size", "sample_rate", "hop_size"):
        if getattr(cfg, key) <= 0:
            raise VoiceConfigError(f"{cfg.path}: key {key!r} must be positive, got {getattr(cfg, key)}")
    if role != "acoustic":
        return
    if cfg.use_key_shift_embed and cfg.key_shift_range is None:
        raise VoiceConfigError(
            f"{cfg.path}: key 'augmentation_args.random_pitch_shifting.range' is required when 'use_key_shift_embed'"
        )
    if cfg.use_variable_depth and (cfg.max_depth_raw is None or cfg.max_depth_raw <= 0):
        raise VoiceConfigError(f"{cfg.path}: key 'max_depth' must be a positive number when the depth is variable")
    _check_mel(cfg.path, cfg.mel_base, cfg.mel_scale)


def _check_mel(path: Path, base: str, scale: str) -> None:
    """OpenUtau renders only ln / log10 mels on the slaney or htk scale."""
    if base not in ("10", "e"):
        raise VoiceConfigError(f"{path}: key 'mel_base' must be '10' or 'e', got {base!r}")
    if scale not in ("slaney", "htk"):
        raise VoiceConfigError(f"{path}: key 'mel_scale' must be 'slaney' or 'htk', got {scale!r}")


def load_dsconfig(path: Path, role: str) -> DsConfig:
    """Read and check a dsconfig.yaml for `role` ("acoustic", "dur", "pitch" or "variance")."""
    data = read_yaml_mapping(path)
    v, ignored = parse_keys(path, data, DSCONFIG_KEYS)
    # OpenUtau: use_variable_depth wins, older files say use_shallow_diffusion, else false.
    variable = v["use_variable_depth"] if v["use_variable_depth"] is not None else v["use_shallow_diffusion"]
    cfg = DsConfig(
        path=path,
        phonemes=v["phonemes"],
        languages=v["languages"],
        use_lang_id=v["use_lang_id"],
        acoustic=v["acoustic"],
        vocoder=v["vocoder"],
        speakers=v["speakers"],
        hidden_size=v["hidden_size"],
        use_key_shift_embed=v["use_key_shift_embed"],
        use_speed_embed=v["use_speed_embed"],
        use_energy_embed=v["use_energy_embed"],
        use_breathiness_embed=v["use_breathiness_embed"],
        use_voicing_embed=v["use_voicing_embed"],
        use_tension_embed=v["use_tension_embed"],
        key_shift_range=_key_shift_range(path, v["augmentation_args"]),
        use_continuous_acceleration=v["use_continuous_acceleration"],
        use_variable_depth=bool(variable),
        max_depth_raw=v["max_depth"],
        dur=v["dur"],
        linguistic=v["linguistic"],
        pitch=v["pitch"],
        variance=v["variance"],
        predict_dur=v["predict_dur"],
        predict_energy=v["predict_energy"],
        predict_breathiness=v["predict_breathiness"],
        predict_voicing=v["predict_voicing"],
        predict_tension=v["predict_tension"],
        use_expr=v["use_expr"],
        use_note_rest=v["use_note_rest"],
        sample_rate=v["sample_rate"],
        hop_size=v["hop_size"],
        win_size=v["win_size"],
        fft_size=v["fft_size"],
        num_mel_bins=v["num_mel_bins"],
        mel_fmin=v["mel_fmin"],
        mel_fmax=v["mel_fmax"],
        mel_base=v["mel_base"],
        mel_scale=v["mel_scale"],
        ignored_keys=ignored,
    )
    _check_role(cfg, role)
    return cfg


@dataclass(frozen=True)
class VocoderConfig:
    """dsvocoder/vocoder.yaml (OpenUtau's DsVocoderConfig defaults)."""

    path: Path
    name: str
    model: str
    sample_rate: int
    hop_size: int
    win_size: int
    fft_size: int
    num_mel_bins: int
    mel_fmin: float
    mel_fmax: float
    mel_base: str
    mel_scale: str
    pitch_controllable: bool
    force_on_cpu: bool
    ignored_keys: tuple[str, ...] = field(default=())


def load_vocoder_config(path: Path) -> VocoderConfig:
    """Read and check a vocoder.yaml."""
    v, ignored = parse_keys(path, read_yaml_mapping(path), VOCODER_KEYS)
    cfg = VocoderConfig(path=path, ignored_keys=ignored, **v)
    _check_mel(path, cfg.mel_base, cfg.mel_scale)
    return cfg


def check_vocoder_matches(acoustic: DsConfig, vocoder: VocoderConfig) -> None:
    """The checks OpenUtau makes before rendering: every mel setting but the base must agree."""
    for key in ("sample_rate", "hop_size", "win_size", "fft_size", "num_mel_bins", "mel_scale"):
        if getattr(acoustic, key) != getattr(vocoder, key):
            raise VoiceConfigError(
                f"{vocoder.path}: key {key!r} = {getattr(vocoder, key)!r} does not match "
                f"{acoustic.path} ({getattr(acoustic, key)!r})"
            )
    for key in ("mel_fmin", "mel_fmax"):
        if abs(getattr(acoustic, key) - getattr(vocoder, key)) > 1e-5:
            raise VoiceConfigError(
                f"{vocoder.path}: key {key!r} = {getattr(vocoder, key)} does not match {acoustic.path} "
                f"({getattr(acoustic, key)})"
            )
