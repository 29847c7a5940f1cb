"""Shared sampler plumbing: the per-step callback, the denoiser call with a conditioner cache, and what a
diffusion module samples (`SampleLayout`: a mel for the acoustic model, repeat bins of one or more curves
for the variance model) with the settings it reads (`DiffusionSettings`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig, BackboneConfig

# Called after every denoiser step with (steps done, steps total); may raise to cancel a render.
StepCallback = Callable[[int, int], None]

REFLOW_ALGORITHMS = ("euler", "rk2", "rk4", "rk5")
GAUSSIAN_ALGORITHMS = ("ddim", "pndm", "dpm-solver", "ddpm")


class DiffusionSettings(Protocol):
    """The scalar settings RectifiedFlow / GaussianDiffusion read (AcousticConfig and VarianceConfig have them)."""

    @property
    def hidden_size(self) -> int: ...
    @property
    def time_scale_factor(self) -> float: ...
    @property
    def timesteps(self) -> int: ...
    @property
    def k_step(self) -> int: ...
    @property
    def use_shallow_diffusion(self) -> bool: ...
    @property
    def schedule_type(self) -> str: ...
    @property
    def max_beta(self) -> float: ...


@dataclass(frozen=True)
class SampleLayout:
    """What a diffusion module samples per frame: `num_feats` features of `bins` values each, denoised as
    x [B, num_feats, bins, T] by `backbone` (its in/out width is num_feats * bins), normalised to [-1, 1]
    with `spec_min` / `spec_max` (one value per bin when num_feats is 1, else one per feature)."""

    bins: int
    num_feats: int
    backbone: BackboneConfig
    spec_min: tuple[float, ...]
    spec_max: tuple[float, ...]

    @classmethod
    def mel(cls, config: DiffusionSettings) -> SampleLayout:
        """The acoustic model's layout: one feature of n_mels bins."""
        if not isinstance(config, AcousticConfig):
            raise TypeError("only an AcousticConfig implies a (mel) sample layout; pass one explicitly")
        return cls(config.mel.n_mels, 1, config.backbone, config.spec_min, config.spec_max)

    def range_buffer(self, values: tuple[float, ...]) -> Tensor:
        """spec_min / spec_max shaped as openvpi registers them: [1, 1, bins] for one feature (broadcast over
        x [B, T, bins]), [1, F, 1, 1] for F features (broadcast over x [B, F, T, bins])."""
        if self.num_feats == 1:
            return torch.tensor(values)[None, None, : self.bins]
        if len(values) != self.num_feats:
            raise ValueError(f"{self.num_feats} features need {self.num_feats} range values, got {len(values)}")
        return torch.tensor(values).view(1, self.num_feats, 1, 1)


class ConditionedDenoiser:
    """backbone(x, step, cond) with the step-independent conditioner projection computed once."""

    def __init__(self, backbone: nn.Module, cond: Tensor) -> None:
        self.backbone = backbone
        self.cond = cond
        project = getattr(backbone, "project_condition", None)
        self.cond_projected = project(cond) if project is not None else None

    def __call__(self, x: Tensor, step: Tensor) -> Tensor:
        if self.cond_projected is not None:
            return self.backbone(x, step, self.cond, cond_projected=self.cond_projected)  # type: ignore[no-any-return]
        return self.backbone(x, step, self.cond)  # type: ignore[no-any-return]


class SpecRange:
    """Mixin of the diffusion modules: maps mels to [-1, 1] and back with the `spec_min`/`spec_max`
    buffers the module registers (persistent or not, as openvpi's state dicts have them)."""

    spec_min: Tensor
    spec_max: Tensor

    def norm_spec(self, x: Tensor) -> Tensor:
        """Mel -> [-1, 1]."""
        return (x - self.spec_min) / (self.spec_max - self.spec_min) * 2 - 1

    def denorm_spec(self, x: Tensor) -> Tensor:
        """[-1, 1] -> mel."""
        return (x + 1) / 2 * (self.spec_max - self.spec_min) + self.spec_min
