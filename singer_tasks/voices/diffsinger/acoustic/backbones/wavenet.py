"""WaveNet denoiser (DiffSinger's original backbone): gated dilated convolutions with skip sums."""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.config import BackboneConfig
from singer_tasks.voices.diffsinger.acoustic.layers import sinusoidal_embedding


class ResidualBlock(nn.Module):
    """One gated dilated conv layer; returns (residual output, skip)."""

    def __init__(self, cond_dims: int, channels: int, dilation: int) -> None:
        super().__init__()
        self.channels = channels
        self.dilated_conv = nn.Conv1d(channels, 2 * channels, 3, padding=dilation, dilation=dilation)
        self.diffusion_projection = nn.Linear(channels, channels)
        self.conditioner_projection = nn.Conv1d(cond_dims, 2 * channels, 1)
        self.output_projection = nn.Conv1d(channels, 2 * channels, 1)

    def forward(
        self, x: Tensor, cond: Tensor, step: Tensor, cond_projected: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """`cond_projected` is this layer's `conditioner_projection(cond)` when the caller computed it once."""
        y = x + self.diffusion_projection(step).unsqueeze(-1)
        y = self.dilated_conv(y) + (self.conditioner_projection(cond) if cond_projected is None else cond_projected)
        gate, filt = torch.split(y, [self.channels, self.channels], dim=1)
        y = self.output_projection(torch.sigmoid(gate) * torch.tanh(filt))
        residual, skip = torch.split(y, [self.channels, self.channels], dim=1)
        return (x + residual) / math.sqrt(2.0), skip


class WaveNet(nn.Module):
    """forward(spec [B, F, M, T], step [B] or [1], cond [B, H, T]) -> [B, F, M, T]; out_dims = F * M.

    Every residual layer projects the condition with its own 1x1 conv, which does not depend on the step:
    a sampler computes them once per render with `project_condition` and passes them as `cond_projected`
    (the same ops on the same input, so the same values as projecting at every step).
    """

    def __init__(self, out_dims: int, cond_dims: int, config: BackboneConfig) -> None:
        super().__init__()
        channels = config.num_channels
        self.channels = channels
        self.input_projection = nn.Conv1d(out_dims, channels, 1)
        self.mlp = nn.Sequential(nn.Linear(channels, channels * 4), nn.Mish(), nn.Linear(channels * 4, channels))
        self.residual_layers = nn.ModuleList(
            ResidualBlock(cond_dims, channels, 2 ** (i % config.dilation_cycle_length))
            for i in range(config.num_layers)
        )
        self.skip_projection = nn.Conv1d(channels, channels, 1)
        self.output_projection = nn.Conv1d(channels, out_dims, 1)

    def project_condition(self, cond: Tensor) -> tuple[Tensor, ...]:
        """cond [B, H, T] -> every residual layer's conditioner projection [B, 2C, T] (step-independent)."""
        return tuple(cast(ResidualBlock, layer).conditioner_projection(cond) for layer in self.residual_layers)

    def forward(
        self, spec: Tensor, step: Tensor, cond: Tensor, cond_projected: tuple[Tensor, ...] | None = None
    ) -> Tensor:
        x = F.relu(self.input_projection(spec.flatten(1, 2)))  # (B, F * M, T) -> (B, C, T)
        step_embed = self.mlp(sinusoidal_embedding(step, self.channels))
        projected = cond_projected or (None,) * len(self.residual_layers)
        skips = []
        for layer, layer_cond in zip(self.residual_layers, projected, strict=True):
            x, skip = layer(x, cond, step_embed, layer_cond)
            skips.append(skip)
        x = torch.sum(torch.stack(skips), dim=0) / math.sqrt(len(self.residual_layers))
        x = F.relu(self.skip_projection(x))
        return self.output_projection(x).unflatten(1, spec.shape[1:3])  # type: ignore[no-any-return]
