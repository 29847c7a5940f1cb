"""Samplers against an oracle denoiser whose data distribution is a single known mel.

For data that is one point x0, the exact noise predictor is eps = (x_t - sqrt(a_t) x0) / sqrt(1 - a_t)
and the exact flow velocity is (x0 - x_t) / (1 - t): a correct sampler must land on x0.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.gaussian import GaussianDiffusion
from singer_tasks.voices.diffsinger.acoustic.reflow import RectifiedFlow

BASE = {
    "hidden_size": 8,
    "audio_num_mel_bins": 4,
    "backbone_type": "wavenet",
    "backbone_args": {"num_channels": 4, "num_layers": 1},
    "spec_min": [-1],
    "spec_max": [1],
    "max_beta": 0.02,
}


class NoiseOracle(nn.Module):
    def __init__(self, alphas_cumprod: Tensor, x0: Tensor) -> None:
        super().__init__()
        self.a = alphas_cumprod
        self.x0 = x0

    def forward(self, x: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        pos = t.float()
        i0 = pos.floor().long().clamp(0, len(self.a) - 1)
        i1 = (i0 + 1).clamp(max=len(self.a) - 1)
        frac = (pos - i0).reshape(-1, 1, 1, 1)
        a = self.a[i0].reshape(-1, 1, 1, 1) * (1 - frac) + self.a[i1].reshape(-1, 1, 1, 1) * frac
        return (x - a.sqrt() * self.x0) / (1 - a).sqrt()


class GrowthField(nn.Module):
    """v(x, t) = x: the flow from time t0 to 1 multiplies x by exp(1 - t0)."""

    def forward(self, x: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        return x


@pytest.mark.parametrize(
    ("algorithm", "steps", "tol"),
    [("ddim", 20, 0.03), ("pndm", 20, 0.03), ("dpm-solver", 10, 0.03), ("ddpm", 1000, 1e-3)],
)
def test_gaussian_samplers_land_on_the_data(algorithm: str, steps: int, tol: float) -> None:
    torch.manual_seed(0)
    diffusion = GaussianDiffusion(AcousticConfig.from_dict({**BASE, "diffusion_type": "ddpm"}))
    x0 = torch.rand(1, 1, 4, 6) - 0.5
    diffusion.denoise_fn = NoiseOracle(diffusion.alphas_cumprod, x0)
    noise = torch.randn(1, 1, 4, 6)
    out = diffusion.sample(torch.zeros(1, 6, 8), noise, src_spec=None, depth=1.0, steps=steps, algorithm=algorithm)
    expected = x0[:, 0].transpose(1, 2)  # spec range [-1, 1] so denorm is the identity
    assert (out - expected).abs().max().item() < tol
    assert (noise[:, 0].transpose(1, 2) - expected).abs().max().item() > 0.5  # the start was far away


@pytest.mark.parametrize(
    ("algorithm", "steps", "tol"), [("euler", 400, 2e-3), ("rk2", 40, 1e-4), ("rk4", 4, 1e-4), ("rk5", 4, 1e-4)]
)
def test_reflow_samplers_solve_the_flow(algorithm: str, steps: int, tol: float) -> None:
    flow = RectifiedFlow(AcousticConfig.from_dict({**BASE, "diffusion_type": "reflow"}))
    flow.velocity_fn = GrowthField()
    src = (torch.rand(1, 6, 4) - 0.5) * 0.5
    noise = torch.randn(1, 1, 4, 6) * 0.3
    depth = 0.6
    calls: list[int] = []
    out = flow.sample(
        torch.zeros(1, 6, 8), noise, src_spec=src, depth=depth, steps=steps, algorithm=algorithm,
        on_step=lambda i, n: calls.append(i),
    )  # fmt: skip
    start = (1 - depth) * src + depth * noise[:, 0].transpose(1, 2)  # the shallow-diffusion start point
    expected = start * torch.exp(torch.tensor(depth))
    assert (out - expected).abs().max().item() < tol
    assert calls == list(range(1, steps + 1))


def test_unknown_sampler_is_refused() -> None:
    flow = RectifiedFlow(AcousticConfig.from_dict({**BASE, "diffusion_type": "reflow"}))
    with pytest.raises(ValueError, match="heun"):
        flow.sample(torch.zeros(1, 6, 8), torch.randn(1, 1, 4, 6), src_spec=None, depth=1.0, steps=2, algorithm="heun")
