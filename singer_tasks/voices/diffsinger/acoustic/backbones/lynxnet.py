"""LYNXNet denoiser (DiffSinger v2.5 default): gated depthwise-separable convolution layers."""

from __future__ import annotations

from typing import cast

import torch.nn.functional as F
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.config import BackboneConfig
from singer_tasks.voices.diffsinger.acoustic.layers import GLU, SinusoidalPosEmb, Transpose


def _activation(name: str, channels: int) -> nn.Module:
    if name == "PReLU":
        return nn.PReLU(channels)
    if name == "SiLU":
        return nn.SiLU()
    if name == "ReLU":
        return nn.ReLU()
    raise ValueError(f"LYNXNet activation {name!r} is not one of PReLU, SiLU, ReLU")


class LYNXConvModule(nn.Module):
    """LayerNorm -> pointwise SwiGLU -> depthwise conv -> activation -> pointwise; (B, T, C) in and out."""

    def __init__(self, dim: int, expansion: int, kernel_size: int, activation: str) -> None:
        super().__init__()
        inner = dim * expansion
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            Transpose(1, 2),
            nn.Conv1d(dim, inner * 2, 1),
            GLU("swiglu", dim=1),
            nn.Conv1d(inner, inner, kernel_size, padding=kernel_size // 2, groups=inner),
            _activation(activation, inner),
            nn.Conv1d(inner, dim, 1),
            Transpose(1, 2),
            nn.Identity(),  # dropout slot
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]


class LYNXNetResidualLayer(nn.Module):
    """Adds condition and step, runs the conv module, adds the residual; (B, C, T) in and out."""

    def __init__(self, cond_dims: int, dim: int, expansion: int, kernel_size: int, activation: str) -> None:
        super().__init__()
        self.diffusion_projection = nn.Conv1d(dim, dim, 1)
        self.conditioner_projection = nn.Conv1d(cond_dims, dim, 1)
        self.convmodule = LYNXConvModule(dim, expansion, kernel_size, activation)

    def forward(
        self, x: Tensor, cond: Tensor, step: Tensor, front_cond_inject: bool, cond_projected: Tensor | None = None
    ) -> Tensor:
        """`cond_projected` is `conditioner_projection(cond)` when the caller computed it once per render."""
        projected = self.conditioner_projection(cond) if cond_projected is None else cond_projected
        if front_cond_inject:
            x = x + projected
            res = x
        else:
            res = x
            x = x + projected
        x = x + self.diffusion_projection(step)
        return self.convmodule(x.transpose(1, 2)).transpose(1, 2) + res  # type: ignore[no-any-return]


class LYNXNet(nn.Module):
    """forward(spec [B, F, M, T], step [B] or [1], cond [B, H, T]) -> [B, F, M, T]; out_dims = F * M.

    Each residual layer's conditioner projection does not depend on the step: a sampler computes them
    once per render with `project_condition` and passes them as `cond_projected` (same values).
    """

    def __init__(self, out_dims: int, cond_dims: int, config: BackboneConfig) -> None:
        super().__init__()
        channels = config.num_channels
        self.input_projection = nn.Conv1d(out_dims, channels, 1)
        self.diffusion_embedding = nn.Sequential(
            SinusoidalPosEmb(channels), nn.Linear(channels, channels * 4), nn.GELU(), nn.Linear(channels * 4, channels)
        )
        expansion = int(config.expansion_factor)
        self.residual_layers = nn.ModuleList(
            LYNXNetResidualLayer(cond_dims, channels, expansion, config.kernel_size, config.activation)
            for _ in range(config.num_layers)
        )
        self.norm = nn.LayerNorm(channels)
        self.output_projection = nn.Conv1d(channels, out_dims, 1)
        self.strong_cond = config.strong_cond

    def project_condition(self, cond: Tensor) -> tuple[Tensor, ...]:
        """cond [B, H, T] -> every residual layer's conditioner projection [B, C, T] (step-independent)."""
        return tuple(cast(LYNXNetResidualLayer, layer).conditioner_projection(cond) for layer in self.residual_layers)

    def forward(
        self, spec: Tensor, step: Tensor, cond: Tensor, cond_projected: tuple[Tensor, ...] | None = None
    ) -> Tensor:
        x = self.input_projection(spec.flatten(1, 2))  # (B, F * M, T) -> (B, C, T)
        if not self.strong_cond:
            x = F.gelu(x)
        step_embed = self.diffusion_embedding(step).unsqueeze(-1)  # (B, C, 1)
        projected = cond_projected or (None,) * len(self.residual_layers)
        for layer, layer_cond in zip(self.residual_layers, projected, strict=True):
            x = layer(x, cond, step_embed, self.strong_cond, layer_cond)
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.output_projection(x).unflatten(1, spec.shape[1:3])  # type: ignore[no-any-return]
