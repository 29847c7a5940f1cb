"""Gaussian diffusion decoder (openvpi GaussianDiffusion): denoises from noise (or a noised aux mel).

The schedule buffers are part of openvpi's state dict and are loaded from the checkpoint.
Depth is the fraction of the `timesteps` chain that is run (K_step_infer / timesteps);
samplers: ddim, pndm (PLMS), dpm-solver (DPM-Solver++ 2M) and plain ddpm ancestral sampling.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.backbones import build_backbone
from singer_tasks.voices.diffsinger.acoustic.samplers import (
    GAUSSIAN_ALGORITHMS,
    ConditionedDenoiser,
    DiffusionSettings,
    SampleLayout,
    SpecRange,
    StepCallback,
)


def beta_schedule(kind: str, timesteps: int, max_beta: float) -> np.ndarray:
    """openvpi's linear or cosine beta schedule (float64)."""
    if kind == "linear":
        return np.linspace(1e-4, max_beta, timesteps)
    if kind == "cosine":
        steps = timesteps + 1
        x = np.linspace(0, steps, steps)
        alphas_cumprod = np.cos(((x / steps) + 0.008) / (1 + 0.008) * np.pi * 0.5) ** 2
        alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
        return np.clip(1 - (alphas_cumprod[1:] / alphas_cumprod[:-1]), 0, 0.999)  # type: ignore[no-any-return]
    raise ValueError(f"unknown schedule_type {kind!r} (linear or cosine)")


def _at(buffer: Tensor, t: Tensor) -> Tensor:
    """buffer[t] shaped [B, 1, 1, 1] for broadcasting over (B, 1, M, T)."""
    return buffer.gather(-1, t).reshape(t.shape[0], 1, 1, 1)


class GaussianDiffusion(SpecRange, nn.Module):
    """Holds the noise backbone as `denoise_fn`; `sample` returns a mel [B, T, M] (the default layout), or
    with a variance layout [B, T, R] (one feature) / [B, F, T, R] (F features) of repeat bins."""

    betas: Tensor
    alphas_cumprod: Tensor
    sqrt_alphas_cumprod: Tensor
    sqrt_one_minus_alphas_cumprod: Tensor
    sqrt_recip_alphas_cumprod: Tensor
    sqrt_recipm1_alphas_cumprod: Tensor
    posterior_mean_coef1: Tensor
    posterior_mean_coef2: Tensor
    posterior_log_variance_clipped: Tensor
    spec_min: Tensor
    spec_max: Tensor

    def __init__(self, config: DiffusionSettings, layout: SampleLayout | None = None) -> None:
        super().__init__()
        layout = layout or SampleLayout.mel(config)
        self.denoise_fn = build_backbone(layout.bins * layout.num_feats, config.hidden_size, layout.backbone)
        self.timesteps = config.timesteps
        self.k_step = config.k_step if config.use_shallow_diffusion else config.timesteps
        betas = beta_schedule(config.schedule_type, config.timesteps, config.max_beta)
        alphas_cumprod = np.cumprod(1.0 - betas, axis=0)
        alphas_cumprod_prev = np.append(1.0, alphas_cumprod[:-1])
        posterior_variance = betas * (1.0 - alphas_cumprod_prev) / (1.0 - alphas_cumprod)
        buffers = {
            "betas": betas,
            "alphas_cumprod": alphas_cumprod,
            "alphas_cumprod_prev": alphas_cumprod_prev,
            "sqrt_alphas_cumprod": np.sqrt(alphas_cumprod),
            "sqrt_one_minus_alphas_cumprod": np.sqrt(1.0 - alphas_cumprod),
            "log_one_minus_alphas_cumprod": np.log(1.0 - alphas_cumprod),
            "sqrt_recip_alphas_cumprod": np.sqrt(1.0 / alphas_cumprod),
            "sqrt_recipm1_alphas_cumprod": np.sqrt(1.0 / alphas_cumprod - 1),
            "posterior_variance": posterior_variance,
            "posterior_log_variance_clipped": np.log(np.maximum(posterior_variance, 1e-20)),
            "posterior_mean_coef1": betas * np.sqrt(alphas_cumprod_prev) / (1.0 - alphas_cumprod),
            "posterior_mean_coef2": (1.0 - alphas_cumprod_prev) * np.sqrt(1.0 - betas) / (1.0 - alphas_cumprod),
        }
        for name, value in buffers.items():
            self.register_buffer(name, torch.tensor(value, dtype=torch.float32))
        # The DPM-Solver's schedule is read one number at a time: from this host copy, not the device's buffer.
        self.host_betas = torch.tensor(betas, dtype=torch.float32)
        self.register_buffer("spec_min", layout.range_buffer(layout.spec_min))
        self.register_buffer("spec_max", layout.range_buffer(layout.spec_max))

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
        generator: torch.Generator | None = None,
        backbone: nn.Module | None = None,
    ) -> Tensor:
        """condition [B, T, H], noise [B, F, M, T], src_spec [B, T, M] -> [B, T, M] or [B, F, T, M].

        `steps` sets the stride over the chain (openvpi's diff_speedup = t_max // steps); `backbone`
        replaces `denoise_fn` for this call (an int8 copy of it, see `int8.py`).
        """
        if algorithm not in GAUSSIAN_ALGORITHMS:
            raise ValueError(f"unknown diffusion sampler {algorithm!r}; use one of {GAUSSIAN_ALGORITHMS}")
        b = condition.shape[0]
        t_max = min(round(depth * self.timesteps), self.k_step)
        if t_max >= self.timesteps:
            x = noise
        elif t_max > 0:
            if src_spec is None:
                raise ValueError("a shallow render (depth < 1) needs the aux decoder's mel")
            x_start = self.norm_spec(src_spec).transpose(-2, -1)[:, None]
            t = torch.full((b,), t_max - 1, dtype=torch.long, device=noise.device)
            x = _at(self.sqrt_alphas_cumprod, t) * x_start + _at(self.sqrt_one_minus_alphas_cumprod, t) * noise
        else:
            if src_spec is None:
                raise ValueError("depth 0 needs the aux decoder's mel")
            x = self.norm_spec(src_spec).transpose(-2, -1)[:, None]
        denoiser = ConditionedDenoiser(self.denoise_fn if backbone is None else backbone, condition.transpose(1, 2))
        interval = max(1, t_max // max(1, steps))
        if t_max > 0:
            if algorithm == "dpm-solver" and interval > 1:
                from singer_tasks.voices.diffsinger.acoustic.dpm_solver import dpm_solver_sample

                x = dpm_solver_sample(denoiser, self.host_betas[:t_max], x, t_max // interval, on_step)
            elif algorithm in ("ddim", "pndm") and interval > 1:
                x = self._sample_strided(denoiser, x, t_max, interval, algorithm == "pndm", on_step)
            else:
                x = self._sample_ancestral(denoiser, x, t_max, on_step, generator)
        return self.denorm_spec(x.transpose(2, 3).squeeze(1))

    def _sample_strided(
        self,
        fn: ConditionedDenoiser,
        x: Tensor,
        t_max: int,
        interval: int,
        plms: bool,
        on_step: StepCallback | None,
    ) -> Tensor:
        b = x.shape[0]
        history: list[Tensor] = []
        times = list(reversed(range(0, t_max, interval)))
        for n, i in enumerate(times):
            t = torch.full((b,), i, dtype=torch.long, device=x.device)
            x = self._plms_step(fn, x, t, interval, history) if plms else self._ddim_update(x, fn(x, t), t, interval)
            if on_step is not None:
                on_step(n + 1, len(times))
        return x

    def _ddim_update(self, x: Tensor, noise_pred: Tensor, t: Tensor, interval: int) -> Tensor:
        a_t = _at(self.alphas_cumprod, t)
        a_prev = _at(self.alphas_cumprod, torch.clamp(t - interval, min=0))
        return a_prev.sqrt() * (
            x / a_t.sqrt() + (((1 - a_prev) / a_prev).sqrt() - ((1 - a_t) / a_t).sqrt()) * noise_pred
        )

    def _plms_x_pred(self, x: Tensor, noise_t: Tensor, t: Tensor, interval: int) -> Tensor:
        a_t = _at(self.alphas_cumprod, t)
        a_prev = _at(self.alphas_cumprod, torch.clamp(t - interval, min=0))
        a_t_sq, a_prev_sq = a_t.sqrt(), a_prev.sqrt()
        x_delta = (a_prev - a_t) * (
            (1 / (a_t_sq * (a_t_sq + a_prev_sq))) * x
            - 1 / (a_t_sq * (((1 - a_prev) * a_t).sqrt() + ((1 - a_t) * a_prev).sqrt())) * noise_t
        )
        return x + x_delta

    def _plms_step(self, fn: ConditionedDenoiser, x: Tensor, t: Tensor, interval: int, history: list[Tensor]) -> Tensor:
        """Pseudo linear multi-step (PNDM) as openvpi's p_sample_plms; history holds past noise predictions."""
        noise_pred = fn(x, t)
        if not history:
            x_pred = self._plms_x_pred(x, noise_pred, t, interval)
            noise_prev = fn(x_pred, torch.clamp(t - interval, min=0))
            prime = (noise_pred + noise_prev) / 2
        elif len(history) == 1:
            prime = (3 * noise_pred - history[-1]) / 2
        elif len(history) == 2:
            prime = (23 * noise_pred - 16 * history[-1] + 5 * history[-2]) / 12
        else:
            prime = (55 * noise_pred - 59 * history[-1] + 37 * history[-2] - 9 * history[-3]) / 24
        history.append(noise_pred)
        del history[:-3]
        return self._plms_x_pred(x, prime, t, interval)

    def _sample_ancestral(
        self,
        fn: ConditionedDenoiser,
        x: Tensor,
        t_max: int,
        on_step: StepCallback | None,
        generator: torch.Generator | None,
    ) -> Tensor:
        """Plain DDPM: every step of the chain, drawing fresh noise (from `generator`) each time."""
        b = x.shape[0]
        for n, i in enumerate(reversed(range(t_max))):
            t = torch.full((b,), i, dtype=torch.long, device=x.device)
            noise_pred = fn(x, t)
            x_recon = _at(self.sqrt_recip_alphas_cumprod, t) * x - _at(self.sqrt_recipm1_alphas_cumprod, t) * noise_pred
            mean = _at(self.posterior_mean_coef1, t) * x_recon + _at(self.posterior_mean_coef2, t) * x
            if i > 0:
                # drawn on the host: a seed gives the same noise on every device
                z = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
                x = mean + (0.5 * _at(self.posterior_log_variance_clipped, t)).exp() * z
            else:
                x = mean
            if on_step is not None:
                on_step(n + 1, t_max)
        return x
