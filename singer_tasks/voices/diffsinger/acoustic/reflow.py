"""Rectified flow decoder (openvpi RectifiedFlow): integrates a velocity field from noise to mel.

With shallow diffusion the integration starts at t_start = 1 - depth from the mix
t_start * aux_mel + (1 - t_start) * noise. Samplers: euler, rk2, rk4 (and rk5), as openvpi's.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.backbones import build_backbone
from singer_tasks.voices.diffsinger.acoustic.samplers import (
    REFLOW_ALGORITHMS,
    ConditionedDenoiser,
    DiffusionSettings,
    SampleLayout,
    SpecRange,
    StepCallback,
)


class RectifiedFlow(SpecRange, nn.Module):
    """Holds the velocity backbone as `velocity_fn`; `sample` returns a mel [B, T, M] (the default layout),
    or with a variance layout [B, T, R] (one feature) / [B, F, T, R] (F features) of repeat bins."""

    spec_min: Tensor
    spec_max: Tensor

    def __init__(self, config: DiffusionSettings, layout: SampleLayout | None = None) -> None:
        super().__init__()
        layout = layout or SampleLayout.mel(config)
        self.velocity_fn = build_backbone(layout.bins * layout.num_feats, config.hidden_size, layout.backbone)
        self.time_scale_factor = config.time_scale_factor
        self.register_buffer("spec_min", layout.range_buffer(layout.spec_min), persistent=False)
        self.register_buffer("spec_max", layout.range_buffer(layout.spec_max), persistent=False)

    def sample(
        self,
        condition: Tensor,
        noise: Tensor,
        *,
        src_spec: Tensor | None,
        depth: float,
        steps: int,
        algorithm: str,
        on_step: StepCallback | None = None,
        backbone: nn.Module | None = None,
    ) -> Tensor:
        """condition [B, T, H], noise [B, F, M, T], src_spec [B, T, M] (aux mel) -> [B, T, M] or [B, F, T, M].

        `backbone` replaces `velocity_fn` for this call (an int8 copy of it, see `int8.py`)."""
        if algorithm not in REFLOW_ALGORITHMS:
            raise ValueError(f"unknown rectified-flow sampler {algorithm!r}; use one of {REFLOW_ALGORITHMS}")
        t_start = 1.0 - depth
        if t_start > 0:
            if src_spec is None:
                raise ValueError("a shallow render (depth < 1) needs the aux decoder's mel")
            x_end = self.norm_spec(src_spec).transpose(-2, -1)[:, None]  # (B, 1, M, T)
            x = x_end if t_start >= 1 else t_start * x_end + (1 - t_start) * noise
        else:
            t_start = 0.0
            x = noise
        if t_start < 1:
            denoiser = ConditionedDenoiser(
                self.velocity_fn if backbone is None else backbone, condition.transpose(1, 2)
            )
            dt = (1.0 - t_start) / max(1, steps)
            dts = torch.tensor([dt], device=x.device, dtype=x.dtype)
            step_fn = getattr(self, f"_step_{algorithm}")
            for i in range(steps):
                x = step_fn(denoiser, x, t_start + i * dts, dt)
                if on_step is not None:
                    on_step(i + 1, steps)
        return self.denorm_spec(x.float().transpose(2, 3).squeeze(1))

    def _v(self, denoiser: ConditionedDenoiser, x: Tensor, t: Tensor) -> Tensor:
        return denoiser(x, self.time_scale_factor * t)

    def _step_euler(self, fn: ConditionedDenoiser, x: Tensor, t: Tensor, dt: float) -> Tensor:
        return x + self._v(fn, x, t) * dt

    def _step_rk2(self, fn: ConditionedDenoiser, x: Tensor, t: Tensor, dt: float) -> Tensor:
        k1 = self._v(fn, x, t)
        k2 = self._v(fn, x + 0.5 * k1 * dt, t + 0.5 * dt)
        return x + k2 * dt

    def _step_rk4(self, fn: ConditionedDenoiser, x: Tensor, t: Tensor, dt: float) -> Tensor:
        k1 = self._v(fn, x, t)
        k2 = self._v(fn, x + 0.5 * k1 * dt, t + 0.5 * dt)
        k3 = self._v(fn, x + 0.5 * k2 * dt, t + 0.5 * dt)
        k4 = self._v(fn, x + k3 * dt, t + dt)
        return x + (k1 + 2 * k2 + 2 * k3 + k4) * dt / 6

    def _step_rk5(self, fn: ConditionedDenoiser, x: Tensor, t: Tensor, dt: float) -> Tensor:
        k1 = self._v(fn, x, t)
        k2 = self._v(fn, x + 0.25 * k1 * dt, t + 0.25 * dt)
        k3 = self._v(fn, x + 0.125 * (k2 + k1) * dt, t + 0.25 * dt)
        k4 = self._v(fn, x + 0.5 * (-k2 + 2 * k3) * dt, t + 0.5 * dt)
        k5 = self._v(fn, x + 0.0625 * (3 * k1 + 9 * k4) * dt, t + 0.75 * dt)
        k6 = self._v(fn, x + (-3 * k1 + 2 * k2 + 12 * k3 - 12 * k4 + 8 * k5) * dt / 7, t + dt)
        return x + (7 * k1 + 32 * k3 + 12 * k4 + 32 * k5 + 7 * k6) * dt / 90
