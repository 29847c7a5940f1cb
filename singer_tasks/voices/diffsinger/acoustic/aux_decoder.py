"""ConvNeXt auxiliary decoder: the fast mel estimate that shallow diffusion starts from."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.layers import depthwise_conv_time


class ConvNeXtBlock(nn.Module):
    """Depthwise conv -> LayerNorm -> MLP with layer scale, plus residual; channel-last (B, T, C)."""

    def __init__(self, dim: int, intermediate: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        y = depthwise_conv_time(x, self.dwconv)
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + y  # type: ignore[no-any-return]


class ConvNeXtDecoder(nn.Module):
    """condition [B, T, H] -> normalised mel [B, T, M]."""

    def __init__(self, in_dims: int, out_dims: int, channels: int, layers: int, kernel_size: int) -> None:
        super().__init__()
        pad = (kernel_size - 1) // 2
        self.inconv = nn.Conv1d(in_dims, channels, kernel_size, padding=pad)
        self.conv = nn.ModuleList(ConvNeXtBlock(channels, channels * 4) for _ in range(layers))
        self.outconv = nn.Conv1d(channels, out_dims, kernel_size, padding=pad)

    def forward(self, x: Tensor) -> Tensor:
        # The blocks work channel-last (B, T, C): their depthwise conv needs no transposing copies then.
        x = self.inconv(x.transpose(1, 2)).transpose(1, 2).contiguous()
        for block in self.conv:
            x = block(x)
        return self.outconv(x.transpose(1, 2)).transpose(1, 2)  # type: ignore[no-any-return]


class AuxDecoderAdaptor(nn.Module):
    """Wraps the decoder as `.decoder` and maps its output from [-1, 1] to the mel range."""

    spec_min: Tensor
    spec_max: Tensor

    def __init__(self, config: AcousticConfig) -> None:
        super().__init__()
        aux = config.aux_decoder
        n_mels = config.mel.n_mels
        self.decoder = ConvNeXtDecoder(config.hidden_size, n_mels, aux.num_channels, aux.num_layers, aux.kernel_size)
        self.register_buffer("spec_min", torch.tensor(config.spec_min)[None, None, :n_mels], persistent=False)
        self.register_buffer("spec_max", torch.tensor(config.spec_max)[None, None, :n_mels], persistent=False)

    def forward(self, condition: Tensor) -> Tensor:
        x = self.decoder(condition)
        k = (self.spec_max - self.spec_min) / 2.0
        b = (self.spec_max + self.spec_min) / 2.0
        return x * k + b  # type: ignore[no-any-return]
