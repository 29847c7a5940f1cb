"""Building blocks of openvpi's FastSpeech2 encoder: RoPE, self-attention, FFN, positional encodings.

Parameter names follow openvpi's modules so that checkpoints load with strict key checking.
Shapes: B batch, L tokens, C channels, H heads, D head dim.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sinusoidal_embedding(x: Tensor, dim: int) -> Tensor:
    """openvpi's SinusoidalPosEmb: x [...] -> [..., dim] as (sin, cos) halves."""
    half = dim // 2
    scale = math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, device=x.device) * -scale)
    emb = x.unsqueeze(-1) * freqs.unsqueeze(0)
    return torch.cat((emb.sin(), emb.cos()), dim=-1)


class SinusoidalPosEmb(nn.Module):
    """Module form of `sinusoidal_embedding` (a parameter-free slot in nn.Sequential stacks)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return sinusoidal_embedding(x, self.dim)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding over the whole head dim, split-half (default) or interleaved pairs."""

    cached_freqs: Tensor

    def __init__(self, dim: int, interleaved: bool, theta: float = 10000.0, max_seq_len: int = 8192) -> None:
        super().__init__()
        self.interleaved = interleaved
        self.max_seq_len = max_seq_len
        inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2).float() / dim))
        freqs = torch.einsum("i,j->ij", torch.arange(max_seq_len, dtype=inv_freq.dtype), inv_freq)
        # interleaved: (f0 f0 f1 f1 ...); split halves: (f0 f1 ... f0 f1 ...)
        freqs = freqs.repeat_interleave(2, dim=-1) if interleaved else torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cached_freqs", freqs, persistent=False)

    def _rotate_half(self, x: Tensor) -> Tensor:
        if not self.interleaved:
            x1, x2 = torch.split(x, x.size(-1) // 2, dim=-1)
            return torch.cat((-x2, x1), dim=-1)
        pairs = x.reshape(*x.shape[:-1], -1, 2)
        x1, x2 = pairs.unbind(dim=-1)
        return torch.stack((-x2, x1), dim=-1).flatten(-2)

    def rotate(self, t: Tensor) -> Tensor:
        """Rotate queries or keys t [B, H, L, D] by their positions."""
        seq_len = t.shape[-2]
        if seq_len > self.max_seq_len:
            raise ValueError(f"sequence of {seq_len} tokens exceeds RoPE max_seq_len {self.max_seq_len}")
        freqs = self.cached_freqs[:seq_len].to(dtype=t.dtype)
        return t * freqs.cos() + self._rotate_half(t) * freqs.sin()


class MultiheadSelfAttention(nn.Module):
    """Bias-free multi-head self-attention with optional RoPE (openvpi MultiheadSelfAttentionWithRoPE)."""

    def __init__(self, dim: int, num_heads: int, rotary: RotaryEmbedding | None) -> None:
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.in_proj = nn.Linear(dim, dim * 3, bias=False)
        self.out_proj = nn.Linear(dim, dim, bias=False)
        self.rotary_embed = rotary  # shared by all layers; holds no persistent state

    def forward(self, x: Tensor, key_padding_mask: Tensor) -> Tensor:
        b, length, _ = x.shape
        q, k, v = torch.split(self.in_proj(x), self.dim, dim=-1)
        q = q.view(b, length, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, L, D)
        k = k.view(b, length, self.num_heads, self.head_dim).transpose(1, 2)
        v = v.view(b, length, self.num_heads, self.head_dim).transpose(1, 2)
        if self.rotary_embed is not None:
            q = self.rotary_embed.rotate(q)
            k = self.rotary_embed.rotate(k)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # (B, H, L, L)
        scores = scores.masked_fill(key_padding_mask[:, None, None, :], -math.inf)
        out = torch.matmul(F.softmax(scores, dim=-1), v)  # (B, H, L, D)
        out = out.transpose(1, 2).contiguous().view(b, length, self.dim)
        return self.out_proj(out)  # type: ignore[no-any-return]


class GLU(nn.Module):
    """Gated linear unit on the last dim: SwiGLU (out * silu(gate)) or ATanGLU (out * atan(gate))."""

    def __init__(self, kind: str, dim: int = -1) -> None:
        super().__init__()
        if kind not in ("swiglu", "atanglu"):
            raise ValueError(f"{kind!r} is not a valid GLU type (swiglu or atanglu)")
        self.kind = kind
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        out, gate = torch.split(x, x.size(self.dim) // 2, dim=self.dim)
        if self.kind == "swiglu":
            return out * F.silu(gate)
        return out * torch.atan(gate)


class TransformerFFN(nn.Module):
    """Conv1d -> activation -> Linear, with openvpi's 1/sqrt(kernel) scaling after the conv."""

    def __init__(self, dim: int, kernel_size: int, act: str) -> None:
        super().__init__()
        filter_size = 4 * dim
        acts: dict[str, nn.Module] = {"relu": nn.ReLU(), "gelu": nn.GELU(), "swish": nn.SiLU()}
        if act in ("swiglu", "atanglu"):
            self.act_fn: nn.Module = GLU(act)
            first_out = filter_size * 2
        elif act in acts:
            self.act_fn = acts[act]
            first_out = filter_size
        else:
            raise ValueError(f"ffn_act {act!r} is not one of relu, gelu, swish, swiglu, atanglu")
        self.kernel_size = kernel_size
        self.ffn_1 = nn.Conv1d(dim, first_out, kernel_size, padding=kernel_size // 2)
        self.ffn_2 = nn.Linear(filter_size, dim)

    def forward(self, x: Tensor) -> Tensor:  # (B, L, C)
        x = self.ffn_1(x.transpose(1, 2)).transpose(1, 2)
        x = x * self.kernel_size**-0.5
        return self.ffn_2(self.act_fn(x))  # type: ignore[no-any-return]


class MixedLayerNorm(nn.Module):
    """Speaker-conditioned layer norm (inference form of openvpi's Mixed_LayerNorm)."""

    def __init__(self, dim: int, cond_dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.affine = nn.Linear(cond_dim, dim * 2)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        x = F.layer_norm(x, (self.dim,), eps=1e-5)
        params = self.affine(cond)
        if params.ndim == 2:
            params = params.unsqueeze(1)
        betas, gammas = torch.split(params, self.dim, dim=-1)
        return gammas * x + betas


class EncSALayer(nn.Module):
    """Pre-norm transformer layer: self-attention then convolutional FFN, padding zeroed after each."""

    def __init__(
        self, dim: int, num_heads: int, kernel_size: int, act: str, rotary: RotaryEmbedding | None, mix_ln: bool
    ) -> None:
        super().__init__()
        self.mix_ln = mix_ln
        self.layer_norm1: nn.Module = MixedLayerNorm(dim, dim) if mix_ln else nn.LayerNorm(dim)
        self.self_attn = MultiheadSelfAttention(dim, num_heads, rotary)
        self.layer_norm2: nn.Module = MixedLayerNorm(dim, dim) if mix_ln else nn.LayerNorm(dim)
        self.ffn = TransformerFFN(dim, kernel_size, act)

    def _norm(self, norm: nn.Module, x: Tensor, cond: Tensor | None) -> Tensor:
        if self.mix_ln:
            if cond is None:
                raise ValueError("use_mix_ln needs a speaker embedding (use_spk_id)")
            return norm(x, cond)  # type: ignore[no-any-return]
        return norm(x)  # type: ignore[no-any-return]

    def forward(self, x: Tensor, padding_mask: Tensor, cond: Tensor | None) -> Tensor:
        keep = (1 - padding_mask.float())[..., None]
        x = x + self.self_attn(self._norm(self.layer_norm1, x, cond), padding_mask)
        x = x * keep
        x = x + self.ffn(self._norm(self.layer_norm2, x, cond))
        return x * keep


class TransformerEncoderLayer(nn.Module):
    """Holds the layer as `.op`, matching openvpi's parameter names."""

    def __init__(self, op: EncSALayer) -> None:
        super().__init__()
        self.op = op

    def forward(self, x: Tensor, padding_mask: Tensor, cond: Tensor | None) -> Tensor:
        return self.op(x, padding_mask, cond)  # type: ignore[no-any-return]


def sinusoidal_table(num: int, dim: int, padding_idx: int | None, device: torch.device | None = None) -> Tensor:
    """fairseq-style absolute position table [num, dim] (sin half then cos half), row padding_idx zero."""
    half = dim // 2
    scale = math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.float, device=device) * -scale)
    emb = torch.arange(num, dtype=torch.float, device=device).unsqueeze(1) * freqs.unsqueeze(0)
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1).view(num, -1)
    if dim % 2 == 1:
        emb = torch.cat([emb, torch.zeros(num, 1, device=device)], dim=1)
    if padding_idx is not None:
        emb[padding_idx, :] = 0
    return emb


class SinusoidalPositionalEmbedding(nn.Module):
    """Absolute positions 1..L of non-padding tokens (fairseq); `_float_tensor` kept for key parity."""

    _float_tensor: Tensor

    def __init__(self, dim: int, padding_idx: int = 0) -> None:
        super().__init__()
        self.dim = dim
        self.padding_idx = padding_idx
        self.register_buffer("_float_tensor", torch.FloatTensor(1))

    def forward(self, nonpadding: Tensor) -> Tensor:  # (B, L) bool -> (B, L, C)
        mask = nonpadding.long()
        positions = torch.cumsum(mask, dim=1) * mask + self.padding_idx
        # Positions reach at most L + padding_idx: the table's size follows from the shape, so building it
        # needs no read of the device's data.
        rows = max(2000, nonpadding.shape[1] + self.padding_idx + 1)
        table = sinusoidal_table(rows, self.dim, self.padding_idx, device=nonpadding.device)
        return table.to(self._float_tensor)[positions]


def rel_positional_encoding(x: Tensor, max_len: int = 5000) -> Tensor:
    """espnet's RelPositionalEncoding as openvpi uses it: x * sqrt(C) + reversed-position table."""
    length, dim = x.shape[1], x.shape[2]
    total = max(max_len, length)
    position = torch.arange(total - 1, -1, -1.0, dtype=torch.float32, device=x.device).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32, device=x.device) * -(math.log(10000.0) / dim))
    pe = torch.stack([torch.sin(position * div_term), torch.cos(position * div_term)], dim=2).view(-1, dim)
    return x * math.sqrt(dim) + pe[None, :length].to(x)


class Transpose(nn.Module):
    """Swap two dims (a parameter-free slot in openvpi's nn.Sequential stacks)."""

    def __init__(self, dim0: int, dim1: int) -> None:
        super().__init__()
        self.dims = (dim0, dim1)

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(*self.dims)


def depthwise_conv_time(x: Tensor, conv: nn.Conv1d) -> Tensor:
    """Depthwise Conv1d over time of a channel-last x [B, T, C] -> [B, T, C], without transposing copies.

    x.unsqueeze(1).permute(0, 3, 1, 2) is a channels-last [B, C, 1, T] view of the same memory, so the conv
    runs as a 2-D depthwise conv in oneDNN's NHWC kernel: the same sums as Conv1d on [B, C, T] (bitwise
    equal here) at about a tenth of the time, and its output, permuted back, is again a channel-last view.
    Written as an NHWC -> NCHW permutation (not a transpose of [B, T, C] then an unsqueeze) so that an ONNX
    export of it is one ONNX Runtime reads channels-last directly (its NCHWc reorders take the NHWC
    permutations in, instead of two transposes per layer; see acoustic/int8.py).
    """
    weight = conv.weight.unsqueeze(2)  # (C, 1, 1, K)
    pad = conv.padding[0] if isinstance(conv.padding, tuple) else 0
    y = F.conv2d(x.unsqueeze(1).permute(0, 3, 1, 2), weight, conv.bias, padding=(0, pad), groups=conv.groups)
    return y.permute(0, 2, 3, 1).squeeze(1)
