"""The multi-variance predictor's sample layout (energy, breathiness, voicing, tension sampled jointly).

openvpi samples the F predicted curves as one diffusion over x [B, F, R, T] with R = total_repeat_bins / F
repeat bins each, every curve normalised from its own [min, max] range (dB, or logit for tension).
"""

from __future__ import annotations

from singer_tasks.voices.diffsinger.acoustic.encoder import VARIANCE_SCALE
from singer_tasks.voices.diffsinger.acoustic.samplers import SampleLayout
from singer_tasks.voices.diffsinger.variance.config import VarianceConfig

__all__ = ["VARIANCE_SCALE", "variance_layout"]


def variance_layout(config: VarianceConfig) -> SampleLayout:
    """F features of R bins, normalised per feature (one range when F is 1, as openvpi)."""
    v = config.variances
    mins = tuple(lo for lo, _ in v.ranges)
    maxs = tuple(hi for _, hi in v.ranges)
    return SampleLayout(v.repeat_bins, len(v.names), v.backbone, mins, maxs)
