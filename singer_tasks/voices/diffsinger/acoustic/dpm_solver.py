"""DPM-Solver++ (2M, multistep, time-uniform steps) over a discrete DDPM schedule, as openvpi runs it.

Discrete step n (0..N-1) sits at continuous time t = (n + 1) / N; log(alpha_t) is interpolated
linearly between steps. The data prediction x0 = (x - sigma * eps) / alpha drives the updates; the last
step drops to first order when there are fewer than 10 steps (openvpi's `lower_order_final`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from singer_tasks.voices.diffsinger.acoustic.samplers import ConditionedDenoiser, StepCallback


class DiscreteVPSchedule:
    """Half log-SNR lambda(t), alpha(t), sigma(t) of a discrete beta schedule."""

    def __init__(self, betas: Tensor) -> None:
        log_alphas = 0.5 * torch.log(1 - betas.double()).cumsum(dim=0)
        # Clip the tail where lambda < -5.1 (numerically unstable), as openvpi's NoiseScheduleVP does.
        lambdas = log_alphas - 0.5 * torch.log(1.0 - torch.exp(2.0 * log_alphas))
        cut = int(torch.searchsorted(torch.flip(lambdas, [0]), torch.tensor(-5.1, dtype=torch.float64)))
        if cut > 0:
            log_alphas = log_alphas[:-cut]
        self.log_alpha = log_alphas
        self.total_n = log_alphas.shape[0]

    def log_alpha_at(self, t: float) -> float:
        """Piecewise-linear log(alpha) at continuous time t in [1/N, 1]."""
        pos = min(max(t * self.total_n - 1, 0.0), self.total_n - 1.0)
        i0 = min(int(pos), self.total_n - 2) if self.total_n > 1 else 0
        frac = pos - i0
        if self.total_n == 1:
            return float(self.log_alpha[0])
        return float(self.log_alpha[i0] * (1 - frac) + self.log_alpha[i0 + 1] * frac)

    def coefficients(self, t: float) -> tuple[float, float, float]:
        """(alpha, sigma, lambda) at time t."""
        log_alpha = self.log_alpha_at(t)
        alpha = float(torch.exp(torch.tensor(log_alpha, dtype=torch.float64)))
        sigma = (1.0 - alpha * alpha) ** 0.5
        return alpha, sigma, log_alpha - float(torch.log(torch.tensor(sigma, dtype=torch.float64)))


def dpm_solver_sample(
    denoiser: ConditionedDenoiser, betas: Tensor, x: Tensor, steps: int, on_step: StepCallback | None
) -> Tensor:
    """Integrate from t = 1 (the chain's last step) to t = 1/N in `steps` model calls."""
    schedule = DiscreteVPSchedule(betas)
    n = schedule.total_n
    times = torch.linspace(1.0, 1.0 / n, steps + 1, dtype=torch.float64).tolist()
    order = 2 if steps >= 2 else 1

    def data_pred(x_t: Tensor, t: float) -> Tensor:
        alpha, sigma, _ = schedule.coefficients(t)
        step = torch.full((x_t.shape[0],), (t - 1.0 / n) * n, dtype=x_t.dtype, device=x_t.device)
        return (x_t - sigma * denoiser(x_t, step)) / alpha

    prev_models = [data_pred(x, times[0])]
    prev_times = [times[0]]
    for k in range(1, steps + 1):
        t = times[k]
        step_order = 1 if k < order else (min(order, steps + 1 - k) if steps < 10 else order)
        alpha_t, sigma_t, lambda_t = schedule.coefficients(t)
        _, sigma_p, lambda_p = schedule.coefficients(prev_times[-1])
        h = lambda_t - lambda_p
        phi = float(torch.expm1(torch.tensor(-h, dtype=torch.float64)))
        x_new = (sigma_t / sigma_p) * x - (alpha_t * phi) * prev_models[-1]
        if step_order == 2:
            _, _, lambda_pp = schedule.coefficients(prev_times[-2])
            r0 = (lambda_p - lambda_pp) / h
            d1 = (1.0 / r0) * (prev_models[-1] - prev_models[-2])
            x_new = x_new - 0.5 * (alpha_t * phi) * d1
        x = x_new
        if k < steps:
            prev_models = [*prev_models[-1:], data_pred(x, t)]
            prev_times = [*prev_times[-1:], t]
        if on_step is not None:
            on_step(k, steps)
    return x
