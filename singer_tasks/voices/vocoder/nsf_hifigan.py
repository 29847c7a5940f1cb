"""NSF-HiFiGAN generator (openvpi's): mel [B, M, T] + f0 [B, T] Hz -> waveform [B, 1, T * hop].

Classic variant: a harmonic-plus-noise source at the output rate, injected after every upsampling
stage. mini_nsf (pc-nsf) variant: a single sine at a lower rate, injected after the second stage.
Weight norm is folded into plain weights at load (see `load.py`), so the modules here have none.

Activations run channels-last: a signal [B, C, T] is held as a [B, C, 1, T] tensor in channels-last
memory and every Conv1d runs as the equivalent Conv2d, which oneDNN computes with its NHWC kernels,
without layout reorders between layers (about a third faster than Conv1d here, and the same sums up to
float32 rounding). `channels_last_weights` lays the conv weights out the same way once, at load.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from singer_tasks.voices.runtime import release_free_memory
from singer_tasks.voices.vocoder.config import VocoderConfig

LRELU_SLOPE = 0.1
# A replacement network (mel [B, M, T], channels-last source [B, 1, 1, N]) -> waveform [B, 1, T * hop].
Network = Callable[[Tensor, Tensor], Tensor]


@dataclass
class SourceNoise:
    """Randomness of the classic source: initial harmonic phases [B, 1, 9] (cycles) and noise [B, N, 9].

    `zeros()` gives openvpi's zero-noise reference; None fields are drawn from the generator.
    """

    phases: Tensor | None = None
    noise: Tensor | None = None
    zero: bool = False

    @classmethod
    def zeros(cls) -> SourceNoise:
        """No random phases and no additive noise (deterministic output)."""
        return cls(zero=True)


def _padding(kernel_size: int, dilation: int) -> int:
    return (kernel_size * dilation - dilation) // 2


def to_channels_last(x: Tensor) -> Tensor:
    """[B, C, T] -> [B, C, 1, T] in channels-last memory (the layout every conv here takes and returns)."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def conv(layer: nn.Module, x: Tensor) -> Tensor:
    """Conv1d `layer` applied to a channels-last [B, C, 1, T] signal, as a Conv2d with a height-1 kernel."""
    if not isinstance(layer, nn.Conv1d):
        raise TypeError(f"expected a Conv1d, got {type(layer).__name__}")
    return F.conv2d(
        x, layer.weight.unsqueeze(2), layer.bias, stride=(1, layer.stride[0]),
        padding=(0, int(layer.padding[0])), dilation=(1, layer.dilation[0]), groups=layer.groups,
    )  # fmt: skip


def conv_transpose(layer: nn.Module, x: Tensor) -> Tensor:
    """ConvTranspose1d `layer` applied to a channels-last [B, C, 1, T] signal, as a ConvTranspose2d."""
    if not isinstance(layer, nn.ConvTranspose1d):
        raise TypeError(f"expected a ConvTranspose1d, got {type(layer).__name__}")
    return F.conv_transpose2d(
        x, layer.weight.unsqueeze(2), layer.bias, stride=(1, layer.stride[0]), padding=(0, int(layer.padding[0])),
        output_padding=(0, layer.output_padding[0]), groups=layer.groups, dilation=(1, layer.dilation[0]),
    )  # fmt: skip


def channels_last_weights(model: nn.Module) -> None:
    """Store every Conv1d weight [O, I, K] in the memory order of a channels-last [O, I, 1, K] (same values)."""
    for module in model.modules():
        if type(module) is nn.Conv1d:
            w = module.weight.data
            module.weight.data = w.unsqueeze(2).contiguous(memory_format=torch.channels_last).squeeze(2)


class ResBlock1(nn.Module):
    """Three (dilated conv, conv) pairs with leaky ReLUs and residuals."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=_padding(kernel_size, d))
            for d in dilations[:3]
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, 1, dilation=1, padding=_padding(kernel_size, 1))
            for _ in range(3)
        )

    def forward(self, x: Tensor) -> Tensor:
        """x [B, C, 1, T] channels-last -> same shape."""
        for c1, c2 in zip(self.convs1, self.convs2, strict=True):
            xt = F.leaky_relu(conv(c1, F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE, inplace=True)
            x = conv(c2, xt).add_(x)  # in place into a temporary: one full-rate signal fewer held at once
        return x


class ResBlock2(nn.Module):
    """Two dilated convs with leaky ReLUs and residuals."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, 1, dilation=d, padding=_padding(kernel_size, d))
            for d in dilations[:2]
        )

    def forward(self, x: Tensor) -> Tensor:
        """x [B, C, 1, T] channels-last -> same shape."""
        for c in self.convs:
            x = conv(c, F.leaky_relu(x, LRELU_SLOPE)).add_(x)
        return x


class SourceModuleHnNSF(nn.Module):
    """Harmonic source: f0 and 8 overtones as sines (noise where unvoiced), merged by Linear + tanh."""

    def __init__(self, sample_rate: int, harmonic_num: int = 8, sine_amp: float = 0.1, noise_std: float = 0.003):
        super().__init__()
        self.sample_rate = sample_rate
        self.dim = harmonic_num + 1
        self.sine_amp = sine_amp
        self.noise_std = noise_std
        self.l_linear = nn.Linear(self.dim, 1)

    def sines(self, f0: Tensor, upp: int, source: SourceNoise, generator: torch.Generator | None) -> Tensor:
        """f0 [B, T] -> excitation [B, T * upp, dim] before merging."""
        f0 = f0.unsqueeze(-1)  # (B, T, 1)
        b = f0.shape[0]
        rad = f0 / self.sample_rate * torch.arange(1, upp + 1, device=f0.device)  # phase in cycles within each frame
        # Accumulate whole-frame phase increments wrapped to [-0.5, 0.5) to keep float32 precise.
        rad2 = torch.fmod(rad[..., -1:].float() + 0.5, 1.0) - 0.5
        rad_acc = rad2.cumsum(dim=1).fmod(1.0).to(f0)
        rad = rad + F.pad(rad_acc[:, :-1, :], (0, 0, 1, 0))
        rad = rad.reshape(b, -1, 1) * torch.arange(1, self.dim + 1, device=f0.device).reshape(1, 1, -1)  # (B, N, dim)
        if not source.zero:
            phases = source.phases
            if phases is None:  # noise is drawn on the host: a seed gives the same audio on every device
                phases = torch.rand(1, 1, self.dim, generator=generator)
                phases[..., 0] = 0
            rad = rad + phases.to(f0.device)
        sine_waves = torch.sin(2 * math.pi * rad) * self.sine_amp
        uv = (f0 > 0).float()
        uv = F.interpolate(uv.transpose(2, 1), scale_factor=upp, mode="nearest").transpose(2, 1)
        if not source.zero:
            noise = source.noise
            if noise is None:
                noise = torch.randn(sine_waves.shape, generator=generator)
            noise_amp = uv * self.noise_std + (1 - uv) * self.sine_amp / 3
            return sine_waves * uv + noise_amp * noise.to(f0.device)
        return sine_waves * uv

    def forward(self, f0: Tensor, upp: int, source: SourceNoise, generator: torch.Generator | None) -> Tensor:
        return torch.tanh(self.l_linear(self.sines(f0, upp, source, generator)))


class Generator(nn.Module):
    """openvpi's NSF-HiFiGAN generator with openvpi's parameter names (weight norm folded)."""

    # Phrases over 2 x chunk_frames (about 12 s at hop 512 / 44.1 kHz) go in chunks of chunk_frames, each
    # with chunk_context frames of context per side (twice the ~12 frames beyond which a chunk's output
    # stops changing, measured): 5-9 % more vocoder arithmetic for a peak memory that stops growing.
    chunk_frames = 512
    chunk_context = 24

    def __init__(self, config: VocoderConfig) -> None:
        super().__init__()
        self.config = config
        rates = config.upsample_rates
        self.num_kernels = len(config.resblock_kernel_sizes)
        self.mini_nsf = config.mini_nsf
        if config.mini_nsf:
            self.source_sr = config.mel.sample_rate / math.prod(rates[2:])
            self.upp = math.prod(rates[:2])
        else:
            self.upp = math.prod(rates)
            self.m_source = SourceModuleHnNSF(config.mel.sample_rate)
            self.noise_convs = nn.ModuleList()
        self.conv_pre = nn.Conv1d(config.mel.n_mels, config.upsample_initial_channel, 7, 1, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        block = ResBlock1 if config.resblock == "1" else ResBlock2
        ch = config.upsample_initial_channel
        for i, (u, k) in enumerate(zip(rates, config.upsample_kernel_sizes, strict=True)):
            ch //= 2
            self.ups.append(nn.ConvTranspose1d(2 * ch, ch, k, u, padding=(k - u) // 2))
            for kernel, dilations in zip(config.resblock_kernel_sizes, config.resblock_dilation_sizes, strict=True):
                self.resblocks.append(block(ch, kernel, dilations))
            if not config.mini_nsf:
                if i + 1 < len(rates):
                    stride = math.prod(rates[i + 1 :])
                    self.noise_convs.append(nn.Conv1d(1, ch, stride * 2, stride=stride, padding=stride // 2))
                else:
                    self.noise_convs.append(nn.Conv1d(1, ch, 1))
            elif i == 1:
                self.source_conv = nn.Conv1d(1, ch, 1)
        self.conv_post = nn.Conv1d(ch, 1, 7, 1, padding=3)

    def fast_sine(self, f0: Tensor) -> Tensor:
        """mini_nsf source: one sine at source_sr with f0 ramped linearly inside each frame; [B, 1, T * upp]."""
        n = torch.arange(1, self.upp + 1, device=f0.device)
        s0 = f0.unsqueeze(-1) / self.source_sr
        ds0 = F.pad(s0[:, 1:, :] - s0[:, :-1, :], (0, 0, 0, 1))
        rad = s0 * n + 0.5 * ds0 * n * (n - 1) / self.upp
        rad2 = torch.fmod(rad[..., -1:].float() + 0.5, 1.0) - 0.5
        rad_acc = rad2.cumsum(dim=1).fmod(1.0).to(f0)
        rad = rad + F.pad(rad_acc[:, :-1, :], (0, 0, 1, 0))
        return torch.sin(2 * math.pi * rad.reshape(f0.shape[0], 1, -1))

    def forward(
        self,
        mel: Tensor,
        f0: Tensor,
        source: SourceNoise | None = None,
        generator: torch.Generator | None = None,
        network: Network | None = None,
    ) -> Tensor:
        """mel [B, M, T] (ln), f0 [B, T] Hz (0 = unvoiced) -> waveform [B, 1, T * hop] in [-1, 1].

        Phrases longer than `chunk_frames` are synthesised in chunks with `chunk_context` frames of real
        context on each side (more than the network's reach, about 12 frames at openvpi's sizes),
        so peak memory stays that of a chunk while the output equals a whole-phrase pass to float rounding.
        The source signal is always made for the whole phrase (its phase runs through the chunks).
        `network` replaces `self.network` (an int8 copy of it, see `int8.py`); it takes no inner noise."""
        source = source or SourceNoise()
        har_source = self.source_signal(f0, source, generator)
        frames = mel.shape[-1]
        if frames <= 2 * self.chunk_frames:
            return self._synthesize(mel, to_channels_last(har_source), source, generator, network)
        hop = math.prod(self.config.upsample_rates)
        pieces = []
        for begin in range(0, frames, self.chunk_frames):
            end = min(frames, begin + self.chunk_frames)
            lo, hi = max(0, begin - self.chunk_context), min(frames, end + self.chunk_context)
            src = to_channels_last(har_source[..., lo * self.upp : hi * self.upp])
            wave = self._synthesize(mel[..., lo:hi], src, source, generator, network)
            pieces.append(wave[..., (begin - lo) * hop : (end - lo) * hop].clone())
            del wave, src
            release_free_memory()  # the chunk's temporaries, before the next chunk allocates its own
        return torch.cat(pieces, dim=-1)

    def source_signal(self, f0: Tensor, source: SourceNoise, generator: torch.Generator | None) -> Tensor:
        """The excitation [B, 1, T * upp] for f0 [B, T]: mini_nsf's sine, or the classic harmonic source."""
        if self.mini_nsf:
            return self.fast_sine(f0)
        return self.m_source(f0, self.upp, source, generator).transpose(1, 2)  # type: ignore[no-any-return]

    def _synthesize(
        self, mel: Tensor, har_source: Tensor, source: SourceNoise, generator: torch.Generator | None,
        network: Network | None,
    ) -> Tensor:  # fmt: skip
        noise = None
        if self.config.noise_sigma > 0 and not source.zero:
            shape = (mel.shape[0], self.config.upsample_initial_channel, 1, mel.shape[-1])  # conv_pre's output
            noise = self.config.noise_sigma * torch.randn(shape, generator=generator).to(mel.device)
        if network is not None:
            if noise is not None:
                raise ValueError("this vocoder draws noise inside its network (noise_sigma > 0): run it in float")
            return network(mel, har_source)
        return self.network(mel, har_source, noise)

    def source_projection(self, stage: int, har_source: Tensor) -> Tensor | None:
        """What upsampling stage `stage` adds of the channels-last source: the classic source's noise_conv at
        every stage, mini_nsf's source_conv after the second; None where nothing is added."""
        if not self.mini_nsf:
            return conv(self.noise_convs[stage], har_source)
        return conv(self.source_conv, har_source) if stage == 1 else None

    def network(self, mel: Tensor, har_source: Tensor, noise: Tensor | None = None) -> Tensor:
        """The network on mel [B, M, T] and its channels-last source [B, 1, 1, T * upp] -> [B, 1, T * hop];
        `noise` (the shape of conv_pre's output) is added after conv_pre."""
        x = conv(self.conv_pre, to_channels_last(mel))
        if noise is not None:
            x = x + noise
        for i, up in enumerate(self.ups):
            x = conv_transpose(up, F.leaky_relu(x, LRELU_SLOPE, inplace=True))  # x: a temporary
            projected = self.source_projection(i, har_source)
            if projected is not None:
                x = x + projected
            xs = self.resblocks[i * self.num_kernels](x)
            for j in range(1, self.num_kernels):
                xs.add_(self.resblocks[i * self.num_kernels + j](x))
            x = xs.div_(self.num_kernels)
        x = conv(self.conv_post, F.leaky_relu(x, inplace=True))
        return torch.tanh(x).squeeze(2)
