"""Typed variance-model settings built from an openvpi variance experiment's flattened `config.yaml`.

The keys that decide the model's structure (`hidden_size`, `predict_dur`, `predict_pitch`,
`use_stretch_embed`, and the argument block of each enabled predictor) are required: openvpi reads them
without a default, and a config without them belongs to another model or to an incompatible older
version. Every other key falls back to openvpi's `configs/variance.yaml` / `configs/base.yaml` defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_tasks.errors import VoiceConfigError
from singer_tasks.voices.diffsinger.acoustic.config import VARIANCE_NAMES, BackboneConfig, backbone_config

# Each variance curve's normalisation range keys (openvpi's build_adaptor) and its clamp: dB curves are
# clamped to [db_min, 0], the tension logit to its own range.
_RANGE_KEYS = {
    "energy": ("energy_db_min", "energy_db_max", -96.0, -12.0),
    "breathiness": ("breathiness_db_min", "breathiness_db_max", -96.0, -20.0),
    "voicing": ("voicing_db_min", "voicing_db_max", -96.0, -12.0),
    "tension": ("tension_logit_min", "tension_logit_max", -10.0, 10.0),
}


@dataclass(frozen=True)
class EncoderConfig:
    """A FastSpeech2Encoder's structure (satisfies acoustic.encoder.EncoderSettings)."""

    hidden_size: int
    enc_layers: int
    num_heads: int = 2
    enc_ffn_kernel_size: int = 3
    ffn_act: str = "gelu"
    use_pos_embed: bool = True
    rel_pos: bool = True
    use_rope: bool = True
    rope_interleaved: bool = False
    use_mix_ln: bool = False
    mix_ln_layer: tuple[int, ...] = ()


@dataclass(frozen=True)
class DurationConfig:
    """openvpi's DurationPredictor: `num_layers` conv blocks of `hidden_size` channels, log-domain output."""

    hidden_size: int = 256
    num_layers: int = 5
    kernel_size: int = 3
    log_offset: float = 1.0
    arch: str = "resnet"


@dataclass(frozen=True)
class PitchConfig:
    """The pitch predictor: a diffusion over `repeat_bins` copies of the pitch delta (semitones)."""

    norm_min: float = -8.0
    norm_max: float = 8.0
    clip_min: float = -12.0
    clip_max: float = 12.0
    repeat_bins: int = 64
    backbone: BackboneConfig = field(default_factory=BackboneConfig)


@dataclass(frozen=True)
class VariancesConfig:
    """The multi-variance predictor: one diffusion over `names`, total_repeat_bins / len(names) bins each."""

    names: tuple[str, ...] = ()
    ranges: tuple[tuple[float, float], ...] = ()
    clamps: tuple[tuple[float, float], ...] = ()
    total_repeat_bins: int = 72
    backbone: BackboneConfig = field(default_factory=BackboneConfig)

    @property
    def repeat_bins(self) -> int:
        """Bins per variance curve."""
        return self.total_repeat_bins // max(1, len(self.names))


@dataclass(frozen=True)
class VarianceConfig:
    """Everything DiffSingerVariance's structure and inference depend on."""

    sample_rate: int = 44100
    hop_size: int = 512
    hidden_size: int = 384
    encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(384, 4))
    use_lang_id: bool = False
    num_lang: int = 1
    use_spk_id: bool = False
    num_spk: int = 1
    use_variance_scaling: bool = False
    use_stretch_embed: bool = False
    predict_dur: bool = True
    duration: DurationConfig = field(default_factory=DurationConfig)
    predict_pitch: bool = True
    use_melody_encoder: bool = False
    melody_encoder: EncoderConfig = field(default_factory=lambda: EncoderConfig(128, 4))
    use_glide_embed: bool = False
    glide_types: tuple[str, ...] = ("up", "down")
    glide_embed_scale: float = 11.313708498984760
    pitch: PitchConfig = field(default_factory=PitchConfig)
    variances: VariancesConfig = field(default_factory=VariancesConfig)
    midi_smooth_width: float = 0.06
    diffusion_type: str = "reflow"
    time_scale_factor: float = 1000.0
    sampling_algorithm: str = "euler"
    sampling_steps: int = 20
    timesteps: int = 1000
    k_step: int = 1000
    k_step_infer: int | None = None
    schedule_type: str = "linear"
    max_beta: float = 0.02
    diff_accelerator: str = "ddim"
    diff_speedup: int = 10
    extra_phonemes: tuple[str, ...] = ()

    # The variance model never diffuses from a shallow source (DiffusionSettings asks for it).
    use_shallow_diffusion: bool = False

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> VarianceConfig:
        """Build from a flattened openvpi config; raises VoiceConfigError naming a bad or missing key."""
        try:
            return _from_dict(raw)
        except KeyError as e:
            raise VoiceConfigError(f"variance config.yaml lacks the setting {e}") from e
        except (TypeError, ValueError) as e:
            raise VoiceConfigError(f"variance config.yaml has a bad setting: {e}") from e

    @property
    def timestep(self) -> float:
        """Seconds per frame."""
        return self.hop_size / self.sample_rate

    @property
    def predict_variances(self) -> bool:
        """Whether the model predicts any of energy, breathiness, voicing, tension."""
        return bool(self.variances.names)

    @property
    def default_algorithm(self) -> str:
        """The sampler the config names."""
        return self.sampling_algorithm if self.diffusion_type == "reflow" else self.diff_accelerator

    @property
    def default_steps(self) -> int:
        """Sampler steps openvpi's inference runs: sampling_steps (reflow), timesteps // diff_speedup (ddpm:
        without shallow diffusion the whole chain is run whatever K_step_infer says)."""
        if self.diffusion_type == "reflow":
            return self.sampling_steps
        return max(1, self.timesteps // max(1, self.diff_speedup))


def _encoder(raw: Mapping[str, Any], nested: Mapping[str, Any]) -> EncoderConfig:
    """An encoder's settings: keys in `nested` (melody_encoder_args) override the top-level ones. Absent
    keys take openvpi's code defaults (configs older than RoPE have neither use_rope nor rel_pos)."""

    def get(key: str, default: Any) -> Any:
        value = nested.get(key, raw.get(key, default))
        return default if value is None else value

    return EncoderConfig(
        hidden_size=int(get("hidden_size", raw["hidden_size"])),
        enc_layers=int(get("enc_layers", 4)),
        num_heads=int(get("num_heads", 2)),
        enc_ffn_kernel_size=int(get("enc_ffn_kernel_size", 3)),
        ffn_act=str(get("ffn_act", "gelu")),
        use_pos_embed=bool(get("use_pos_embed", True)),
        rel_pos=bool(get("rel_pos", False)),
        use_rope=bool(get("use_rope", False)),
        # openvpi's MelodyEncoder reads rope_interleaved from the top level only
        rope_interleaved=bool(raw.get("rope_interleaved", True)),
    )


def _nested_backbone(raw: Mapping[str, Any], args: Mapping[str, Any]) -> BackboneConfig:
    """A predictor's backbone: its own backbone_type, else the top-level one (openvpi's compat rules)."""
    kind = args.get("backbone_type") or raw.get("backbone_type") or raw.get("diff_decoder_type") or "wavenet"
    return backbone_config({**args, "backbone_type": kind})


def _variances(raw: Mapping[str, Any]) -> VariancesConfig:
    names = tuple(v for v in VARIANCE_NAMES if raw.get(f"predict_{v}", False))
    if not names:
        return VariancesConfig()
    args = raw["variances_prediction_args"]
    ranges = []
    clamps = []
    for name in names:
        lo_key, hi_key, lo, hi = _RANGE_KEYS[name]
        vmin, vmax = float(raw.get(lo_key, lo)), float(raw.get(hi_key, hi))
        ranges.append((vmin, vmax))
        clamps.append((vmin, vmax) if name == "tension" else (vmin, 0.0))
    total = int(args.get("total_repeat_bins", 72))
    if total % len(names):
        raise ValueError(f"variances_prediction_args.total_repeat_bins {total} is not divisible by {len(names)}")
    return VariancesConfig(
        names=names,
        ranges=tuple(ranges),
        clamps=tuple(clamps),
        total_repeat_bins=total,
        backbone=_nested_backbone(raw, args),
    )


def _pitch(raw: Mapping[str, Any]) -> PitchConfig:
    if not raw["predict_pitch"]:
        return PitchConfig()
    args = raw["pitch_prediction_args"]
    return PitchConfig(
        norm_min=float(args.get("pitd_norm_min", -8.0)),
        norm_max=float(args.get("pitd_norm_max", 8.0)),
        clip_min=float(args.get("pitd_clip_min", -12.0)),
        clip_max=float(args.get("pitd_clip_max", 12.0)),
        repeat_bins=int(args.get("repeat_bins", 64)),
        backbone=_nested_backbone(raw, args),
    )


def _duration(raw: Mapping[str, Any]) -> DurationConfig:
    if not raw["predict_dur"]:
        return DurationConfig()
    args = raw["dur_prediction_args"]
    loss = str(args.get("loss_type", "mse"))
    if loss not in ("mse", "huber"):
        raise ValueError(f"dur_prediction_args.loss_type {loss!r} is not supported (mse or huber)")
    return DurationConfig(
        hidden_size=int(args.get("hidden_size", 256)),
        num_layers=int(args.get("num_layers", 5)),
        kernel_size=int(args.get("kernel_size", 3)),
        log_offset=float(args.get("log_offset", 1.0)),
        arch=str(args.get("arch", "resnet")),
    )


def _from_dict(raw: Mapping[str, Any]) -> VarianceConfig:
    if raw.get("merged_phoneme_groups"):
        raise ValueError("merged_phoneme_groups (phonemes shared across languages) is not supported")
    if raw.get("use_stretch_embed") is None:
        # openvpi refuses these too: such checkpoints predate a fix and need an older openvpi version
        raise KeyError("use_stretch_embed")
    hidden = int(raw["hidden_size"])
    k_infer = raw.get("K_step_infer")
    diffusion_type = str(raw.get("diffusion_type", "ddpm"))
    if diffusion_type not in ("ddpm", "reflow"):
        raise ValueError(f"diffusion_type {diffusion_type!r} is not ddpm or reflow")
    return VarianceConfig(
        sample_rate=int(raw.get("audio_sample_rate", 44100)),
        hop_size=int(raw.get("hop_size", 512)),
        hidden_size=hidden,
        encoder=_encoder(raw, {}),
        use_lang_id=bool(raw.get("use_lang_id", False)),
        num_lang=int(raw.get("num_lang", 1)),
        use_spk_id=bool(raw.get("use_spk_id", False)),
        num_spk=int(raw.get("num_spk", 1)),
        use_variance_scaling=bool(raw.get("use_variance_scaling", False)),
        use_stretch_embed=bool(raw["use_stretch_embed"]),
        predict_dur=bool(raw["predict_dur"]),
        duration=_duration(raw),
        predict_pitch=bool(raw["predict_pitch"]),
        use_melody_encoder=bool(raw.get("use_melody_encoder", False)),
        melody_encoder=_encoder(raw, dict(raw.get("melody_encoder_args") or {})),
        use_glide_embed=bool(raw.get("use_glide_embed", False)),
        glide_types=tuple(str(g) for g in raw.get("glide_types", ("up", "down")) or ()),
        glide_embed_scale=float(raw.get("glide_embed_scale", 11.313708498984760)),
        pitch=_pitch(raw),
        variances=_variances(raw),
        midi_smooth_width=float(raw.get("midi_smooth_width", 0.06)),
        diffusion_type=diffusion_type,
        time_scale_factor=float(raw.get("time_scale_factor", 1000)),
        sampling_algorithm=str(raw.get("sampling_algorithm", "euler")),
        sampling_steps=int(raw.get("sampling_steps", 20)),
        timesteps=int(raw.get("timesteps", 1000)),
        k_step=int(raw.get("K_step", 1000)),
        k_step_infer=None if k_infer is None else int(k_infer),
        schedule_type=str(raw.get("schedule_type", "linear")),
        max_beta=float(raw.get("max_beta", 0.02)),
        diff_accelerator=str(raw.get("diff_accelerator", "ddim")),
        diff_speedup=int(raw.get("diff_speedup", 10)),
        extra_phonemes=tuple(str(p) for p in raw.get("extra_phonemes") or ()),
    )
