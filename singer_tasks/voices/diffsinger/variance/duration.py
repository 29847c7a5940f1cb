"""Phoneme durations: openvpi's DurationPredictor, RhythmRegulator and LengthRegulator (inference forms).

Shapes: B batch, N tokens, W words, T frames, C channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.variance.config import DurationConfig


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of x [B, C, T] with eps 1e-12 (espnet's LayerNorm(dim=1), as openvpi)."""

    def __init__(self, channels: int) -> None:
        super().__init__(channels, eps=1e-12)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.transpose(1, -1)).transpose(1, -1)


class DurationPredictor(nn.Module):
    """forward(x [B, N, C_in], padding [B, N] bool) -> durations [B, N] in frames (float, >= 0).

    `resnet` blocks are LayerNorm -> Conv(k) -> ReLU -> Conv(1) added to a residual; the plain blocks are
    Conv(k) -> ReLU -> LayerNorm. Sequential indices (0 norm/placeholder, 1 conv, 3 conv/norm) follow openvpi.
    The network predicts log(duration + offset).
    """

    def __init__(self, in_dims: int, config: DurationConfig) -> None:
        super().__init__()
        self.offset = config.log_offset
        self.use_resnet = config.arch == "resnet"
        channels, kernel = config.hidden_size, config.kernel_size
        self.conv = nn.ModuleList()
        for i in range(config.num_layers):
            in_chans = in_dims if i == 0 else channels
            conv = nn.Conv1d(in_chans, channels, kernel, padding=kernel // 2)
            if self.use_resnet:
                block = [ChannelLayerNorm(in_chans), conv, nn.ReLU(), nn.Conv1d(channels, channels, 1), nn.Identity()]
            else:
                block = [nn.Identity(), conv, nn.ReLU(), ChannelLayerNorm(channels), nn.Identity()]
            self.conv.append(nn.Sequential(*block))
        self.res_conv = nn.Conv1d(in_dims, channels, 1) if self.use_resnet and in_dims != channels else None
        self.linear = nn.Linear(channels, 1)

    def forward(self, x: Tensor, padding: Tensor) -> Tensor:
        keep = 1 - padding.float()  # (B, N)
        x = x.transpose(1, 2)  # (B, C, N)
        for i, block in enumerate(self.conv):
            if self.use_resnet:
                residual = self.res_conv(x) if i == 0 and self.res_conv is not None else x
                x = residual + block(x)
            else:
                x = block(x)
            x = x * keep[:, None, :]
        x = self.linear(x.transpose(1, 2)) * keep[:, :, None]  # (B, N, 1)
        return (x.squeeze(-1).exp() - self.offset).clamp(min=0.0)


def rhythm_regulate(ph_dur: Tensor, ph2word: Tensor, word_dur: Tensor, eps: float = 1e-5) -> Tensor:
    """Scale each word's predicted phoneme durations [B, N] so they sum to its duration word_dur [B, W], then
    round to whole frames (int64 [B, N]); ph2word [B, N] is the 1-based word index (0 = padding)."""
    ph_dur = ph_dur.float() * (ph2word > 0)
    words = word_dur.shape[1]  # sized from the shape, not ph2word's largest index: no read of device data
    word_dur_in = ph_dur.new_zeros(ph_dur.shape[0], words + 1).scatter_add(1, ph2word, ph_dur)[:, 1:]
    alpha_w = word_dur.float() / word_dur_in.clamp(min=eps)  # (B, W); clamp: a word predicted empty
    alpha_ph = torch.gather(F.pad(alpha_w, [1, 0]), 1, ph2word)  # (B, N)
    return (ph_dur * alpha_ph).round().long()


def length_regulate(dur: Tensor, padding: Tensor | None = None, length: int | None = None) -> Tensor:
    """Durations [B, N] (int) -> frame-to-token map [B, sum(dur)] of 1-based indices (0 past a row's end).

    Used for mel2ph (phoneme durations), ph2word (`ph_num`), mel2note and mel2word. `length` gives the
    map that many frames instead (cut, or 0 past the end), without reading the durations' sum back from
    the device.
    """
    if padding is not None:
        dur = dur * (1 - padding.long())
    dur = dur.clamp(min=0)
    ends = torch.cumsum(dur, 1)  # (B, N)
    if length is None:
        length = int(ends[:, -1].max()) if dur.shape[1] else 0
    frames = torch.arange(length, device=dur.device)  # (T,)
    # the token of frame t is the number of tokens ending at or before t, plus one
    index = (frames[None, :, None] >= ends[:, None, :]).sum(-1) + 1  # (B, T)
    return index * (frames[None, :] < ends[:, -1:])
