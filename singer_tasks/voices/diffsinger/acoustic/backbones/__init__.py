"""Denoiser backbones of the diffusion decoder (WaveNet, LYNXNet, LYNXNet2), built by name."""

from __future__ import annotations

from torch import nn

from singer_tasks.voices.diffsinger.acoustic.config import BackboneConfig


def build_backbone(out_dims: int, cond_dims: int, config: BackboneConfig) -> nn.Module:
    """The backbone named by `config.type`; forward(spec [B,F,M,T], step [B], cond [B,H,T]) -> [B,F,M,T].

    `out_dims` is the flattened width F * M (the mel bins, or a variance model's features x repeat bins).
    """
    if config.type == "wavenet":
        from singer_tasks.voices.diffsinger.acoustic.backbones.wavenet import WaveNet

        return WaveNet(out_dims, cond_dims, config)
    if config.type == "lynxnet":
        from singer_tasks.voices.diffsinger.acoustic.backbones.lynxnet import LYNXNet

        return LYNXNet(out_dims, cond_dims, config)
    if config.type == "lynxnet2":
        from singer_tasks.voices.diffsinger.acoustic.backbones.lynxnet2 import LYNXNet2

        return LYNXNet2(out_dims, cond_dims, config)
    raise ValueError(f"unknown backbone type {config.type!r} (expected wavenet, lynxnet or lynxnet2)")
