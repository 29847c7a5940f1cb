"""Shared sampler plumbing: the per-step callback and the denoiser call with a conditioner cache."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor, nn

# Called after every denoiser step with (steps done, steps total); may raise to cancel a render.
StepCallback = Callable[[int, int], None]

REFLOW_ALGORITHMS = ("euler", "rk2", "rk4", "rk5")
GAUSSIAN_ALGORITHMS = ("ddim", "pndm", "dpm-solver", "ddpm")


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
