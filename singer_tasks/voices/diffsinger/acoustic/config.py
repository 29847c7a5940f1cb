"""Typed acoustic-model settings built from an openvpi experiment's flattened `config.yaml`.

Keys that a config leaves out fall back to the defaults of openvpi's code (`hparams.get(key, default)`),
and, for keys the code always reads, to openvpi's `configs/base.yaml` / `configs/acoustic.yaml`.
Older configs name the WaveNet settings `residual_layers` / `residual_channels` /
`dilation_cycle_length` at the top level and the backbone `diff_decoder_type`; both are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_tasks.errors import VoiceConfigError
from singer_tasks.voices.mel import MelConfig

VARIANCE_NAMES: tuple[str, ...] = ("energy", "breathiness", "voicing", "tension")


@dataclass(frozen=True)
class BackboneConfig:
    """The diffusion denoiser: type and the union of the three backbones' arguments."""

    type: str = "wavenet"
    num_layers: int = 20
    num_channels: int = 256
    dilation_cycle_length: int = 4
    expansion_factor: float = 2.0
    kernel_size: int = 31
    activation: str = "PReLU"
    strong_cond: bool = False
    use_conditioner_cache: bool = False
    glu_type: str = "swiglu"


@dataclass(frozen=True)
class AuxDecoderConfig:
    """The ConvNeXt decoder that makes the shallow-diffusion source mel."""

    num_channels: int = 512
    num_layers: int = 6
    kernel_size: int = 7


@dataclass(frozen=True)
class AcousticConfig:
    """Everything DiffSingerAcoustic's structure and inference depend on."""

    mel: MelConfig = field(default_factory=MelConfig)
    hidden_size: int = 384
    enc_layers: int = 4
    num_heads: int = 2
    enc_ffn_kernel_size: int = 3
    ffn_act: str = "gelu"
    use_pos_embed: bool = True
    rel_pos: bool = False
    use_rope: bool = False
    rope_interleaved: bool = True
    use_mix_ln: bool = False
    mix_ln_layer: tuple[int, ...] = (0, 2)
    use_lang_id: bool = False
    num_lang: int = 1
    use_spk_id: bool = False
    num_spk: int = 1
    use_stretch_embed: bool = False
    use_variance_scaling: bool = False
    variance_embeds: tuple[str, ...] = ()
    use_key_shift_embed: bool = False
    use_speed_embed: bool = False
    key_shift_range: tuple[float, float] = (-5.0, 5.0)
    speed_range: tuple[float, float] = (0.5, 2.0)
    diffusion_type: str = "ddpm"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    spec_min: tuple[float, ...] = (-12.0,)
    spec_max: tuple[float, ...] = (0.0,)
    use_shallow_diffusion: bool = False
    aux_decoder: AuxDecoderConfig = field(default_factory=AuxDecoderConfig)
    # rectified flow
    t_start: float = 0.0
    t_start_infer: float | None = None
    time_scale_factor: float = 1000.0
    sampling_algorithm: str = "euler"
    sampling_steps: int = 20
    # gaussian diffusion
    timesteps: int = 1000
    k_step: int = 1000
    k_step_infer: int | None = None
    schedule_type: str = "linear"
    max_beta: float = 0.01
    diff_accelerator: str = "ddim"
    diff_speedup: int = 10
    extra_phonemes: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AcousticConfig:
        """Build from a flattened openvpi config; raises VoiceConfigError naming a bad key."""
        try:
            return _from_dict(raw)
        except (KeyError, TypeError, ValueError) as e:
            raise VoiceConfigError(f"acoustic config.yaml has a bad or missing setting: {e}") from e

    @property
    def default_depth(self) -> float:
        """Shallow-diffusion depth in [0, 1] used when a render does not choose one."""
        if self.diffusion_type == "reflow":
            start = self.t_start if self.t_start_infer is None else self.t_start_infer
            return 1.0 - start if self.use_shallow_diffusion else 1.0
        k = self.k_step if self.k_step_infer is None else self.k_step_infer
        return k / self.timesteps if self.use_shallow_diffusion else 1.0

    @property
    def default_steps(self) -> int:
        """Sampler steps used when a render does not choose them."""
        if self.diffusion_type == "reflow":
            return self.sampling_steps
        k = self.k_step if self.k_step_infer is None else self.k_step_infer
        depth = min(k, self.k_step) if self.use_shallow_diffusion else self.timesteps
        return max(1, depth // max(1, self.diff_speedup))


def _floats(value: Any) -> tuple[float, ...]:
    if isinstance(value, (int, float)):
        return (float(value),)
    return tuple(float(v) for v in value)


def _pair(value: Any, default: tuple[float, float]) -> tuple[float, float]:
    if value is None:
        return default
    lo, hi = (float(v) for v in value)
    return lo, hi


def _backbone(raw: Mapping[str, Any]) -> BackboneConfig:
    kind = str(raw.get("backbone_type", raw.get("diff_decoder_type", "wavenet")))
    args = raw.get("backbone_args")
    if args is None and kind == "wavenet":
        args = {
            "num_layers": raw.get("residual_layers", 20),
            "num_channels": raw.get("residual_channels", 256),
            "dilation_cycle_length": raw.get("dilation_cycle_length", 4),
        }
    args = dict(args or {})
    # Each backbone's own constructor defaults differ; these follow openvpi's signatures.
    defaults: dict[str, dict[str, Any]] = {
        "wavenet": {"num_layers": 20, "num_channels": 256, "dilation_cycle_length": 4},
        "lynxnet": {"num_layers": 6, "num_channels": 512, "expansion_factor": 2, "kernel_size": 31},
        "lynxnet2": {"num_layers": 6, "num_channels": 512, "expansion_factor": 1, "kernel_size": 31},
    }
    if kind not in defaults:
        raise ValueError(f"backbone_type {kind!r} is not one of wavenet, lynxnet, lynxnet2")
    merged = {**defaults[kind], **{k: v for k, v in args.items() if v is not None}}
    return BackboneConfig(
        type=kind,
        num_layers=int(merged["num_layers"]),
        num_channels=int(merged["num_channels"]),
        dilation_cycle_length=int(merged.get("dilation_cycle_length", 4)),
        expansion_factor=float(merged.get("expansion_factor", 2)),
        kernel_size=int(merged.get("kernel_size", 31)),
        activation=str(merged.get("activation") or "PReLU"),
        strong_cond=bool(merged.get("strong_cond", False)),
        use_conditioner_cache=bool(merged.get("use_conditioner_cache", False)),
        glu_type=str(merged.get("glu_type", "swiglu")),
    )


def backbone_config(raw: Mapping[str, Any]) -> BackboneConfig:
    """A denoiser's settings from a (possibly nested) config block with `backbone_type` / `backbone_args`
    (or the legacy top-level WaveNet keys); also used for the variance model's predictors."""
    return _backbone(raw)


def _mel(raw: Mapping[str, Any]) -> MelConfig:
    return MelConfig(
        sample_rate=int(raw.get("audio_sample_rate", 44100)),
        n_mels=int(raw.get("audio_num_mel_bins", 128)),
        hop_size=int(raw.get("hop_size", 512)),
        win_size=int(raw.get("win_size", 2048)),
        fft_size=int(raw.get("fft_size", 2048)),
        fmin=float(raw.get("fmin", 40)),
        fmax=float(raw.get("fmax", 16000)),
        mel_base=str(raw.get("mel_base", "10")),
    )


def _from_dict(raw: Mapping[str, Any]) -> AcousticConfig:
    if raw.get("merged_phoneme_groups"):
        raise ValueError("merged_phoneme_groups (phonemes shared across languages) is not supported")
    shallow = dict(raw.get("shallow_diffusion_args") or {})
    aux_args = dict(shallow.get("aux_decoder_args") or {})
    if shallow.get("aux_decoder_arch", "convnext") != "convnext":
        raise ValueError(f"aux_decoder_arch {shallow['aux_decoder_arch']!r} is not supported (only convnext)")
    augmentation = dict(raw.get("augmentation_args") or {})
    pitch_shift = dict(augmentation.get("random_pitch_shifting") or {})
    time_stretch = dict(augmentation.get("random_time_stretching") or {})
    k_infer = raw.get("K_step_infer")
    t_infer = raw.get("T_start_infer")
    return AcousticConfig(
        mel=_mel(raw),
        hidden_size=int(raw.get("hidden_size", 384)),
        enc_layers=int(raw.get("enc_layers", 4)),
        num_heads=int(raw.get("num_heads", 2)),
        enc_ffn_kernel_size=int(raw.get("enc_ffn_kernel_size", 9)),
        ffn_act=str(raw.get("ffn_act", "gelu")),
        use_pos_embed=bool(raw.get("use_pos_embed", True)),
        rel_pos=bool(raw.get("rel_pos", False)),
        use_rope=bool(raw.get("use_rope", False)),
        rope_interleaved=bool(raw.get("rope_interleaved", True)),
        use_mix_ln=bool(raw.get("use_mix_ln", False)),
        mix_ln_layer=tuple(int(i) for i in raw.get("mix_ln_layer", (0, 2))),
        use_lang_id=bool(raw.get("use_lang_id", False)),
        num_lang=int(raw.get("num_lang", 1)),
        use_spk_id=bool(raw.get("use_spk_id", False)),
        num_spk=int(raw.get("num_spk", 1)),
        use_stretch_embed=bool(raw.get("use_stretch_embed", False)),
        use_variance_scaling=bool(raw.get("use_variance_scaling", False)),
        variance_embeds=tuple(v for v in VARIANCE_NAMES if raw.get(f"use_{v}_embed", False)),
        use_key_shift_embed=bool(raw.get("use_key_shift_embed", False)),
        use_speed_embed=bool(raw.get("use_speed_embed", False)),
        key_shift_range=_pair(pitch_shift.get("range"), (-5.0, 5.0)),
        speed_range=_pair(time_stretch.get("range"), (0.5, 2.0)),
        diffusion_type=str(raw.get("diffusion_type", "ddpm")),
        backbone=_backbone(raw),
        spec_min=_floats(raw.get("spec_min", [-12])),
        spec_max=_floats(raw.get("spec_max", [0])),
        use_shallow_diffusion=bool(raw.get("use_shallow_diffusion", False)),
        aux_decoder=AuxDecoderConfig(
            num_channels=int(aux_args.get("num_channels", 512)),
            num_layers=int(aux_args.get("num_layers", 6)),
            kernel_size=int(aux_args.get("kernel_size", 7)),
        ),
        t_start=float(raw.get("T_start", 0.0)),
        t_start_infer=None if t_infer is None else float(t_infer),
        time_scale_factor=float(raw.get("time_scale_factor", 1000)),
        sampling_algorithm=str(raw.get("sampling_algorithm", "euler")),
        sampling_steps=int(raw.get("sampling_steps", 20)),
        timesteps=int(raw.get("timesteps", 1000)),
        k_step=int(raw.get("K_step", 1000)),
        k_step_infer=None if k_infer is None else int(k_infer),
        schedule_type=str(raw.get("schedule_type", "linear")),
        max_beta=float(raw.get("max_beta", 0.01)),
        diff_accelerator=str(raw.get("diff_accelerator", "ddim")),
        diff_speedup=int(raw.get("diff_speedup", 10)),
        extra_phonemes=tuple(str(p) for p in raw.get("extra_phonemes") or ()),
    )
