"""LYNXNet2 denoiser (DiffSinger's current default): channel-last GLU blocks with depthwise conv."""

from __future__ import annotations

from typing import cast

from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.config import BackboneConfig
from singer_tasks.voices.diffsinger.acoustic.layers import GLU, SinusoidalPosEmb, Transpose, depthwise_conv_time


class LYNXNet2Block(nn.Module):
    """x + (LayerNorm -> depthwise conv -> Linear-GLU -> Linear-GLU -> Linear)(x); (B, T, C)."""

    def __init__(self, dim: int, expansion: float, kernel_size: int, glu_type: str) -> None:
        super().__init__()
        inner = int(dim * expansion)
        self.net = nn.Sequential(
            nn.LayerNorm(dim),
            Transpose(1, 2),
            nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim),
            Transpose(1, 2),
            nn.Linear(dim, inner * 2),
            GLU(glu_type),
            nn.Linear(inner, inner * 2),
            GLU(glu_type),
            nn.Linear(inner, dim),
            nn.Identity(),  # dropout slot
        )

    def forward(self, x: Tensor) -> Tensor:
        norm, _, conv, _, *mlp = self.net  # LayerNorm, (transpose, conv, transpose), Linear-GLU x2, Linear
        h: Tensor = depthwise_conv_time(norm(x), cast(nn.Conv1d, conv))
        for layer in mlp:
            h = layer(h)
        return x + h


class LYNXNet2(nn.Module):
    """forward(spec [B, F, M, T], step [B] or [1], cond [B, H, T]) -> [B, F, M, T]; out_dims = F * M.

    The conditioner projection does not depend on the step, so a sampler may compute it once per
    render with `project_condition` and pass the result as `cond_projected` (the conditioner cache).
    """

    def __init__(self, out_dims: int, cond_dims: int, config: BackboneConfig) -> None:
        super().__init__()
        channels = config.num_channels
        self.input_projection = nn.Linear(out_dims, channels)
        self.use_conditioner_cache = config.use_conditioner_cache
        self.conditioner_projection: nn.Module = (
            nn.Conv1d(cond_dims, channels, 1) if config.use_conditioner_cache else nn.Linear(cond_dims, channels)
        )
        self.diffusion_embedding = nn.Sequential(
            SinusoidalPosEmb(channels), nn.Linear(channels, channels * 4), nn.GELU(), nn.Linear(channels * 4, channels)
        )
        self.residual_layers = nn.ModuleList(
            LYNXNet2Block(channels, config.expansion_factor, config.kernel_size, config.glu_type)
            for _ in range(config.num_layers)
        )
        self.norm = nn.LayerNorm(channels)
        self.output_projection = nn.Linear(channels, out_dims)

    def project_condition(self, cond: Tensor) -> Tensor:
        """cond [B, H, T] -> its projection [B, T, C] (independent of the diffusion step)."""
        if self.use_conditioner_cache:
            return self.conditioner_projection(cond).transpose(1, 2)  # type: ignore[no-any-return]
        return self.conditioner_projection(cond.transpose(1, 2))  # type: ignore[no-any-return]

    def forward(self, spec: Tensor, step: Tensor, cond: Tensor, cond_projected: Tensor | None = None) -> Tensor:
        x = self.input_projection(spec.flatten(1, 2).transpose(1, 2))  # (B, F * M, T) -> (B, T, C)
        x = x + (self.project_condition(cond) if cond_projected is None else cond_projected)
        x = x + self.diffusion_embedding(step).unsqueeze(1)
        for layer in self.residual_layers:
            x = layer(x)
        x = self.output_projection(self.norm(x)).transpose(1, 2)  # (B, F * M, T)
        return x.unflatten(1, spec.shape[1:3])  # type: ignore[no-any-return]
