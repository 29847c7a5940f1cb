"""openvpi's FastSpeech2Acoustic: phoneme encoder plus the frame-level condition of the diffusion decoder.

forward(tokens [B, N], mel2ph [B, T], f0 [B, T] Hz, curves) -> condition [B, T, hidden].
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.config import AcousticConfig
from singer_tasks.voices.diffsinger.acoustic.layers import (
    EncSALayer,
    RotaryEmbedding,
    SinusoidalPosEmb,
    SinusoidalPositionalEmbedding,
    TransformerEncoderLayer,
    rel_positional_encoding,
)

# openvpi scales each curve into about [-1, 1] before its embedding when use_variance_scaling is set.
VARIANCE_SCALE = {"energy": 1 / 96, "breathiness": 1 / 96, "voicing": 1 / 96, "tension": 0.1}
KEY_SHIFT_SCALE = 1 / 12


def mel2ph_to_dur(mel2ph: Tensor, num_tokens: int) -> Tensor:
    """Frames per token [B, N] from the frame -> 1-based token index map [B, T]."""
    dur = mel2ph.new_zeros(mel2ph.shape[0], num_tokens + 1).scatter_add(1, mel2ph, torch.ones_like(mel2ph))
    return dur[:, 1:]


def stretch_curve(mel2ph: Tensor, dur: Tensor) -> Tensor:
    """Position of each frame inside its phoneme, 0 at its start rising towards 1 (0 on padding)."""
    dur = torch.cat([torch.ones_like(dur[:, :1]), dur], dim=1)  # index 0 = padding, avoids 0/0
    mel2dur = torch.gather(dur, 1, mel2ph)
    bound = torch.gt(mel2ph[:, 1:], mel2ph[:, :-1])
    delta = F.pad(1 - bound * mel2dur[:, :-1], [1, 0])
    stretch = torch.cumsum(delta, dim=1).float() / mel2dur
    return stretch * (mel2ph > 0)


class EncoderSettings(Protocol):
    """What FastSpeech2Encoder's structure depends on (AcousticConfig has these; so do the variance model's
    linguistic and melody encoder settings)."""

    @property
    def hidden_size(self) -> int: ...
    @property
    def enc_layers(self) -> int: ...
    @property
    def num_heads(self) -> int: ...
    @property
    def enc_ffn_kernel_size(self) -> int: ...
    @property
    def ffn_act(self) -> str: ...
    @property
    def use_pos_embed(self) -> bool: ...
    @property
    def rel_pos(self) -> bool: ...
    @property
    def use_rope(self) -> bool: ...
    @property
    def rope_interleaved(self) -> bool: ...
    @property
    def use_mix_ln(self) -> bool: ...
    @property
    def mix_ln_layer(self) -> tuple[int, ...]: ...


class FastSpeech2Encoder(nn.Module):
    """Token encoder: scaled embedding + positions, transformer layers, final layer norm."""

    def __init__(self, config: EncoderSettings) -> None:
        super().__init__()
        dim = config.hidden_size
        rotary = None
        if config.use_pos_embed and config.use_rope:
            if dim % (config.num_heads * 2) != 0:
                raise ValueError(f"RoPE needs hidden_size divisible by 2 * num_heads, got {dim}")
            rotary = RotaryEmbedding(dim // config.num_heads, interleaved=config.rope_interleaved)
        mix = set(config.mix_ln_layer) if config.use_mix_ln else set()
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(
                EncSALayer(dim, config.num_heads, config.enc_ffn_kernel_size, config.ffn_act, rotary, i in mix)
            )
            for i in range(config.enc_layers)
        )
        self.layer_norm = nn.LayerNorm(dim)
        self.embed_scale = math.sqrt(dim)
        self.use_pos_embed = config.use_pos_embed
        self.rel_pos = config.rel_pos and not config.use_rope
        self.embed_positions: nn.Module | None = None
        if config.use_pos_embed and not config.use_rope and not config.rel_pos:
            self.embed_positions = SinusoidalPositionalEmbedding(dim)

    def forward(self, main: Tensor, extra: Tensor, padding_mask: Tensor, spk_embed: Tensor | None) -> Tensor:
        x = self.embed_scale * main + extra
        if self.use_pos_embed and self.rel_pos:
            x = rel_positional_encoding(x)
        elif self.embed_positions is not None:
            x = x + self.embed_positions(~padding_mask)
        keep = 1 - padding_mask.float()[:, :, None]
        x = x * keep
        for layer in self.layers:
            x = layer(x, padding_mask, spk_embed) * keep
        return self.layer_norm(x) * keep  # type: ignore[no-any-return]


class FastSpeech2Acoustic(nn.Module):
    """The `fs2` part of DiffSingerAcoustic; parameter names as openvpi's."""

    def __init__(self, config: AcousticConfig, vocab_size: int) -> None:
        super().__init__()
        dim = config.hidden_size
        self.config = config
        self.txt_embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        if config.use_lang_id:
            self.lang_embed = nn.Embedding(config.num_lang + 1, dim, padding_idx=0)
        if config.use_stretch_embed:
            self.stretch_embed = nn.Sequential(
                SinusoidalPosEmb(dim), nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim)
            )
            self.stretch_embed_rnn = nn.GRU(dim, dim, 1, batch_first=True)
        self.dur_embed = nn.Linear(1, dim)
        self.encoder = FastSpeech2Encoder(config)
        self.pitch_embed = nn.Linear(1, dim)
        if config.variance_embeds:
            self.variance_embeds = nn.ModuleDict({name: nn.Linear(1, dim) for name in config.variance_embeds})
        if config.use_key_shift_embed:
            self.key_shift_embed = nn.Linear(1, dim)
        if config.use_speed_embed:
            self.speed_embed = nn.Linear(1, dim)
        if config.use_spk_id:
            self.spk_embed = nn.Embedding(config.num_spk, dim)

    def speaker_embedding(self, spk_id: Tensor | None, spk_mix: Tensor | None) -> Tensor | None:
        """[B, 1, H] from speaker ids [B], or [B, T, H] from mix weights [B, T, num_spk]."""
        if not self.config.use_spk_id:
            return None
        if spk_mix is not None:
            return torch.einsum("bts,sh->bth", spk_mix, self.spk_embed.weight)
        if spk_id is None:
            spk_id = torch.zeros(1, dtype=torch.long, device=self.spk_embed.weight.device)
        return self.spk_embed(spk_id)[:, None, :]  # type: ignore[no-any-return]

    def forward(
        self,
        tokens: Tensor,
        mel2ph: Tensor,
        f0: Tensor,
        curves: dict[str, Tensor],
        *,
        languages: Tensor | None = None,
        spk_id: Tensor | None = None,
        spk_mix: Tensor | None = None,
    ) -> Tensor:
        cfg = self.config
        spk_embed = self.speaker_embedding(spk_id, spk_mix)
        dur = mel2ph_to_dur(mel2ph, tokens.shape[1])
        dur_in = dur[:, :, None].float()
        dur_embed = self.dur_embed(torch.log(1 + dur_in) if cfg.use_variance_scaling else dur_in)
        if cfg.use_lang_id:
            if languages is None:
                languages = torch.zeros_like(tokens)
            dur_embed = dur_embed + self.lang_embed(languages)
        encoded = self.encoder(self.txt_embed(tokens), dur_embed, tokens == 0, spk_embed)

        encoded = F.pad(encoded, [0, 0, 1, 0])  # row 0 = padding frames
        condition = torch.gather(encoded, 1, mel2ph[..., None].repeat([1, 1, encoded.shape[-1]]))  # (B, T, H)
        if cfg.use_stretch_embed:
            stretch = torch.round(1000 * stretch_curve(mel2ph, dur))
            condition = condition + self.stretch_embed(stretch)
            rnn_out, _ = self.stretch_embed_rnn(condition)
            condition = condition + rnn_out
        if spk_embed is not None:
            condition = condition + spk_embed
        condition = condition + self.pitch_embed((1 + f0 / 700).log()[:, :, None])
        return self._embed_curves(condition, curves)

    def _embed_curves(self, condition: Tensor, curves: dict[str, Tensor]) -> Tensor:
        cfg = self.config
        if cfg.variance_embeds:
            embeds = [
                self.variance_embeds[name](
                    curves[name][:, :, None] * (VARIANCE_SCALE[name] if cfg.use_variance_scaling else 1.0)
                )
                for name in cfg.variance_embeds
            ]
            condition = condition + torch.stack(embeds, dim=-1).sum(-1)
        if cfg.use_key_shift_embed:
            scale = KEY_SHIFT_SCALE if cfg.use_variance_scaling else 1.0
            condition = condition + self.key_shift_embed(curves["key_shift"][:, :, None] * scale)
        if cfg.use_speed_embed:
            condition = condition + self.speed_embed(curves["speed"][:, :, None])
        return condition
