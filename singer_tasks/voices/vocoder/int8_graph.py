"""The int8 vocoder network written out as an ONNX graph, channels-last from end to end.

Why not ONNX Runtime's own quantizer on the exported network: ONNX's Conv is channels-first, so ORT
turns every int8 convolution into its channels-last kernel and wraps it in transposes, and it cannot
move those through the float residual additions and leaky ReLUs between convolutions; at openvpi's
default size a 10 s phrase spent 0.20 s in transposes, 0.17 s in the float transposed convolutions
(which it does not quantize) and 0.19 s in redundant quantize / dequantize pairs, as much as in the
int8 convolutions themselves (0.78 s). Here the signal is [B, 1, T, C] throughout: every convolution is
ORT's channels-last `com.microsoft.QLinearConv`, the additions and activations between them are
elementwise (layout-free), and each transposed convolution (upsampling by u) is its polyphase form, one
int8 convolution at the input rate with u times the output channels whose channels-last output is
already the upsampled signal in memory (`polyphase_weight`).

Precision is the earlier recipe's: int8 weights (one scale per output channel) and uint8 activations
with min/max ranges calibrated on the float network (`record_ranges`), float32 for what reaches the
output directly or costs little: `conv_pre` (fed the mel itself), `conv_post`, the source injection,
the residual stream (int8 residual additions cost 5 dB of SNR) and the upsampling layers of small fan-in
(`FLOAT_UPSAMPLING_FAN_IN`, one float matrix product each).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from singer_tasks.voices.vocoder.nsf_hifigan import (
    LRELU_SLOPE,
    Generator,
    ResBlock1,
    ResBlock2,
    conv,
    conv_transpose,
    to_channels_last,
)

OPSET = 17
POST_SLOPE = 0.01  # the leaky ReLU before conv_post: torch's default slope, as openvpi's generator has it
# An upsampling layer whose outputs each sum at most this many products (input channels x polyphase taps)
# stays float32: so few terms do not average their int8 rounding away. At openvpi's default size these are
# the last two (fan-in 192 and 96); float, they raise the waveform's SNR by 3.0-4.6 dB over eight random
# vocoders (the worst from 28.4 to 32.0 dB, under the fast mode's 30 before) for about 70 ms per 10 s phrase.
FLOAT_UPSAMPLING_FAN_IN = 256

# A range observer: called with a point's name and the float tensor seen there.
Observe = Callable[[str, Tensor], None]


@dataclass(frozen=True)
class Polyphase:
    """A transposed convolution as a convolution: `weight` [u * C_out, C_in, L] with channel r * C_out + c
    for output phase r; the input padded by `pad_left` / `pad_right` gives `frames` output rows of u
    samples each, of which the first `length` samples are the transposed convolution's output."""

    weight: Tensor
    bias: Tensor
    pad_left: int
    pad_right: int
    frames: int
    length: int


def polyphase_weight(layer: nn.ConvTranspose1d, frames_in: int) -> Polyphase:
    """The polyphase form of `layer` for an input of `frames_in` frames.

    y[q u + r] = sum_m W[:, :, m u + b_r]^T x[q + a_r - m], where r + padding = a_r u + b_r: each output
    phase r is a convolution of the input with every u-th tap of the kernel, at an offset a_r."""
    if layer.groups != 1 or layer.dilation[0] != 1:
        raise ValueError("only ungrouped, undilated transposed convolutions have a polyphase form here")
    u, k, p = layer.stride[0], layer.kernel_size[0], int(layer.padding[0])
    c_in, c_out = layer.weight.shape[0], layer.weight.shape[1]
    taps: dict[tuple[int, int], int] = {}  # (phase, input offset) -> kernel tap
    for r in range(u):
        a, b = divmod(r + p, u)
        for m in range(math.ceil((k - b) / u) if b < k else 0):
            taps[(r, a - m)] = m * u + b
    offsets = [o for _, o in taps]
    low, high = min(offsets), max(offsets)
    length = (frames_in - 1) * u - 2 * p + k + layer.output_padding[0]
    frames = math.ceil(length / u)
    pad_left, pad_right = -low, frames + high - frames_in
    if pad_left < 0 or pad_right < 0:
        raise ValueError(f"transposed convolution (kernel {k}, stride {u}, padding {p}) needs cropping")
    weight = torch.zeros(u, c_out, c_in, high - low + 1)
    source = layer.weight.detach().float()
    for (r, offset), tap in taps.items():
        weight[r, :, :, offset - low] = source[:, :, tap].T
    bias = layer.bias.detach().float() if layer.bias is not None else torch.zeros(c_out)
    return Polyphase(weight.reshape(u * c_out, c_in, -1), bias.repeat(u), pad_left, pad_right, frames, length)


def record_ranges(vocoder: Generator, samples: Iterable[tuple[Tensor, Tensor]]) -> dict[str, tuple[float, float]]:
    """min / max of every tensor the int8 graph quantizes, over (mel [B, M, T], source [B, 1, N]) samples,
    from a float pass that follows `Generator.network` step by step (`network_with_observer`)."""
    ranges: dict[str, tuple[float, float]] = {}

    def observe(name: str, value: Tensor) -> None:
        low, high = float(value.min()), float(value.max())
        seen = ranges.get(name)
        ranges[name] = (low, high) if seen is None else (min(seen[0], low), max(seen[1], high))

    with torch.inference_mode():
        for mel, source in samples:
            network_with_observer(vocoder, mel, to_channels_last(source), observe)
    return ranges


def network_with_observer(vocoder: Generator, mel: Tensor, source: Tensor, observe: Observe) -> Tensor:
    """`Generator.network` (no inner noise) in float, showing `observe` the input and output of every
    convolution the int8 graph quantizes, under the names the graph builder reads."""
    x = conv(vocoder.conv_pre, to_channels_last(mel))
    kernels = vocoder.num_kernels
    for i, up in enumerate(vocoder.ups):
        x = F.leaky_relu(x, LRELU_SLOPE)
        observe(f"ups.{i}.in", x)
        x = conv_transpose(up, x)
        observe(f"ups.{i}.out", x)
        projected = vocoder.source_projection(i, source)
        if projected is not None:
            x = x + projected
        blocks = [
            _observed_block(vocoder.resblocks[b], f"resblocks.{b}", x, observe)
            for b in range(i * kernels, (i + 1) * kernels)
        ]
        x = torch.stack(blocks).sum(0) / kernels
    x = conv(vocoder.conv_post, F.leaky_relu(x, POST_SLOPE))
    return torch.tanh(x).squeeze(2)


def _observed_block(block: nn.Module, name: str, x: Tensor, observe: Observe) -> Tensor:
    """The residual block's output for x (as its own forward computes it), each convolution observed."""
    for index, (first, second) in enumerate(_pairs(block)):
        h = F.leaky_relu(x, LRELU_SLOPE)
        observe(f"{name}.{index}.a.in", h)
        h = conv(first, h)
        observe(f"{name}.{index}.a.out", h)
        if second is not None:
            h = F.leaky_relu(h, LRELU_SLOPE)
            observe(f"{name}.{index}.b.in", h)
            h = conv(second, h)
            observe(f"{name}.{index}.b.out", h)
        x = h + x
    return x


def _pairs(block: nn.Module) -> list[tuple[nn.Conv1d, nn.Conv1d | None]]:
    """A residual block's units: (dilated conv, conv) for ResBlock1, (dilated conv, None) for ResBlock2."""
    if isinstance(block, ResBlock1):
        return [(a, b) for a, b in zip(block.convs1, block.convs2, strict=True)]  # type: ignore[misc]
    if isinstance(block, ResBlock2):
        return [(a, None) for a in block.convs]  # type: ignore[misc]
    raise TypeError(f"unknown residual block {type(block).__name__}")


@dataclass(frozen=True)
class QParams:
    """uint8 affine quantization of a tensor: value = scale * (q - zero_point)."""

    scale: float
    zero_point: int

    @classmethod
    def of_range(cls, low: float, high: float, factor: float = 1.0) -> QParams:
        """For values in [low, high] (widened to hold 0), each multiplied by `factor` first."""
        low, high = min(0.0, low * factor), max(0.0, high * factor)
        scale = (high - low) / 255 or 1e-8
        return cls(scale, int(min(255, max(0, round(-low / scale)))))


@dataclass
class _Graph:
    """An ONNX graph under construction: nodes, initializers and unique names."""

    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)
    count: int = 0
    shared_qparams: dict[QParams, list[str]] = field(default_factory=dict)

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, value: np.ndarray | float | int | list[int], stem: str = "c", dtype: Any = np.float32) -> str:
        from onnx import numpy_helper

        name = self.name(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str | None = None, domain: str = "", **attrs: Any) -> str:
        from onnx import helper

        out = self.name(stem or op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, domain=domain, **attrs))
        return out

    def ints(self, values: list[int]) -> str:
        """An int64 vector constant (shapes, axes, pads, slice bounds)."""
        return self.const(values, "i", np.int64)

    def qparams(self, q: QParams) -> list[str]:
        """The scale and zero-point constants of `q`, written once and shared by every node using them
        (a tensor's quantize, its dequantize and the convolutions reading or writing it)."""
        if q not in self.shared_qparams:
            self.shared_qparams[q] = [self.const(q.scale, "scale"), self.const(q.zero_point, "zp", np.uint8)]
        return self.shared_qparams[q]

    def quantize(self, x: str, q: QParams) -> str:
        return self.op("QuantizeLinear", [x, *self.qparams(q)], "q")

    def dequantize(self, x: str, q: QParams) -> str:
        return self.op("DequantizeLinear", [x, *self.qparams(q)], "dq")

    def qconv(
        self, x: str, q_in: QParams, weight: Tensor, bias: Tensor, q_out: QParams, *, dilation: int,
        pads: tuple[int, int],
    ) -> str:  # fmt: skip
        """A channels-last int8 convolution over time of weight [O, I, K]: int8 per output channel."""
        w = weight.detach().double().numpy()
        w_scale = np.abs(w).reshape(w.shape[0], -1).max(axis=1) / 127
        w_scale[w_scale == 0] = 1.0
        w_q = np.clip(np.round(w / w_scale[:, None, None]), -127, 127).astype(np.int8)[:, :, None, :]
        b_q = np.round(bias.detach().double().numpy() / (q_in.scale * w_scale)).astype(np.int32)
        inputs = [
            x, *self.qparams(q_in), self.const(w_q, "w", np.int8), self.const(w_scale, "w_scale"),
            self.const(np.zeros(w.shape[0]), "w_zp", np.int8), *self.qparams(q_out), self.const(b_q, "b", np.int32),
        ]  # fmt: skip
        return self.op(
            "QLinearConv", inputs, "qconv", domain="com.microsoft", channels_last=1, group=1,
            kernel_shape=[1, w.shape[2]], dilations=[1, dilation], strides=[1, 1], pads=[0, pads[0], 0, pads[1]],
        )  # fmt: skip


class _Builder:
    """Emits the int8 graph of one vocoder from its calibrated ranges."""

    def __init__(self, vocoder: Generator, ranges: dict[str, tuple[float, float]]) -> None:
        self.vocoder = vocoder
        self.ranges = ranges
        self.g = _Graph()
        # (float tensor, params) -> its quantized leaky ReLU: a stage's residual blocks all start from
        # the same signal with the same calibrated range, so it is computed once, not once per block
        self.activated: dict[tuple[str, QParams], str] = {}

    def quantized_lrelu(self, x: str, q: QParams) -> str:
        key = (x, q)
        if key not in self.activated:
            self.activated[key] = self.g.quantize(self.g.op("LeakyRelu", [x], alpha=LRELU_SLOPE), q)
        return self.activated[key]

    def q(self, name: str, factor: float = 1.0) -> QParams:
        if name not in self.ranges:
            raise KeyError(f"no calibrated range for {name}")
        return QParams.of_range(*self.ranges[name], factor=factor)

    def build(self) -> Any:
        from onnx import TensorProto, helper

        v, g = self.vocoder, self.g
        if not graph_supported(v):
            raise ValueError("this vocoder's layout has no int8 graph here (see `graph_supported`)")
        x = self.conv_pre("mel")
        kernels = v.num_kernels
        scale = 1.0  # x is the sum of the residual blocks, `scale` times their mean
        for i, up in enumerate(v.ups):
            assert isinstance(up, nn.ConvTranspose1d)
            x = self.upsample(f"ups.{i}", up, x, scale)
            x = self.add_source(i, x)
            blocks = range(i * kernels, (i + 1) * kernels)
            branches = [self.resblock(f"resblocks.{b}", v.resblocks[b], x) for b in blocks]
            x = branches[0]
            for other in branches[1:]:
                x = g.op("Add", [x, other])
            scale = float(kernels)  # the mean is folded into what reads x next (leaky ReLU is homogeneous)
        wave = self.conv_post(x, scale)
        inputs = [
            helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["B", v.config.mel.n_mels, "T"]),
            helper.make_tensor_value_info("source", TensorProto.FLOAT, ["B", 1, "N"]),
        ]
        outputs = [helper.make_tensor_value_info(wave, TensorProto.FLOAT, ["B", 1, "S"])]
        graph = helper.make_graph(g.nodes, "nsf_hifigan_int8", inputs, outputs, g.initializers)
        opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)]
        return helper.make_model(graph, opset_imports=opsets, producer_name="singer_tasks")

    def conv_pre(self, mel: str) -> str:
        """conv_pre in float (channels-first, at the frame rate), then to [B, 1, T, C]."""
        g, layer = self.g, self.vocoder.conv_pre
        x = g.op("Unsqueeze", [mel, g.ints([2])])
        weight = layer.weight.detach().float().unsqueeze(2).numpy()
        pad = int(layer.padding[0])
        x = g.op(
            "Conv", [x, g.const(weight, "w"), g.const(_bias(layer).numpy(), "b")], kernel_shape=[1, weight.shape[3]],
            pads=[0, pad, 0, pad],
        )  # fmt: skip
        return g.op("Transpose", [x], perm=[0, 2, 3, 1])

    def upsample(self, name: str, layer: nn.ConvTranspose1d, x: str, scale: float) -> str:
        """leaky ReLU, then the transposed convolution as its polyphase int8 convolution (float32 for a small
        fan-in: `float_upsample`); float [B, 1, T u, C]."""
        if float_upsampling(layer):
            return self.float_upsample(layer, x, scale)
        g = self.g
        poly = polyphase_weight(layer, frames_in=8)  # taps and padding do not depend on the length
        c_out = layer.weight.shape[1]  # the output is exactly stride x input: `build` checked graph_supported
        # x is `scale` times the network's signal: so is its leaky ReLU, hence the range and the weights
        q_in, q_out = self.q(f"{name}.in", scale), self.q(f"{name}.out")
        h = self.quantized_lrelu(x, q_in)
        weight = poly.weight / scale
        h = g.qconv(h, q_in, weight, poly.bias, q_out, dilation=1, pads=(poly.pad_left, poly.pad_right))
        h = g.op("Reshape", [h, g.ints([0, 1, -1, c_out])])  # (T, u C) -> (T u, C): free
        return g.dequantize(h, q_out)

    def float_upsample(self, layer: nn.ConvTranspose1d, x: str, scale: float) -> str:
        """leaky ReLU, then the polyphase convolution in float32 as one matrix product over the input's
        shifted copies side by side (channels-last: no layout change); float [B, 1, T u, C]."""
        g = self.g
        poly = polyphase_weight(layer, frames_in=8)
        c_out, taps = layer.weight.shape[1], poly.weight.shape[2]
        h = g.op("LeakyRelu", [x], alpha=LRELU_SLOPE)
        h = g.op("Pad", [h, g.ints([0, 0, poly.pad_left, 0, 0, 0, poly.pad_right, 0])])
        # tap l reads rows l .. l + frames of the padded input; frames = its length - (taps - 1)
        shifted = [
            g.op("Slice", [h, g.ints([tap]), g.ints([tap - (taps - 1) if tap < taps - 1 else 2**62]), g.ints([2])])
            for tap in range(taps)
        ]
        stacked = g.op("Concat", shifted, axis=3) if taps > 1 else shifted[0]
        # weight[o, c, l] -> row l C_in + c, column o (o = phase r C_out + channel)
        matrix = (poly.weight / scale).permute(2, 1, 0).reshape(taps * layer.weight.shape[0], -1)
        h = g.op("MatMul", [stacked, g.const(matrix.numpy(), "w")])
        h = g.op("Add", [h, g.const(poly.bias.numpy(), "b")])
        return g.op("Reshape", [h, g.ints([0, 1, -1, c_out])])  # (T, u C) -> (T u, C): free

    def add_source(self, stage: int, x: str) -> str:
        """x plus the source's projection for this stage (float: one input channel, cheap)."""
        v = self.vocoder
        if v.mini_nsf:
            return self.strided_source(v.source_conv, x) if stage == 1 else x
        return self.strided_source(v.noise_convs[stage], x)

    def strided_source(self, layer: nn.Module, x: str) -> str:
        """x + Conv1d(1 -> C, kernel K = n S, stride S, padding P)(source), as a MatMul on blocks of S samples:
        out[q] = sum_b block[q + b] . w[b S:(b + 1) S] on the source padded by P."""
        assert isinstance(layer, nn.Conv1d)
        g = self.g
        k, s, p = layer.kernel_size[0], layer.stride[0], int(layer.padding[0])
        if k == 1 and s == 1 and p == 0:  # a pointwise projection (mini_nsf's source_conv): broadcast
            src = g.op("Unsqueeze", ["source", g.ints([3])])  # (B, 1, N, 1)
            weight = layer.weight.detach().float()[:, 0, 0].numpy()
            proj = g.op("Add", [g.op("Mul", [src, g.const(weight, "w")]), g.const(_bias(layer).numpy(), "b")])
            return g.op("Add", [x, proj])
        if k % s:
            raise ValueError(f"source convolution kernel {k} is not a multiple of its stride {s}")
        n, c = k // s, layer.weight.shape[0]
        w = layer.weight.detach().float()[:, 0, :]  # (C, K)
        blocks_w = torch.cat([w[:, b * s : (b + 1) * s].T for b in range(n)], dim=1)  # (S, n C)
        frames = g.op("Shape", [x], start=2, end=3)
        # the source padded by P at the start, then with zeros (or cut) to (frames + n - 1) blocks of S
        padded_len = g.op("Mul", [g.op("Add", [frames, g.ints([n - 1])]), g.ints([s])])
        src = g.op("Pad", [g.op("Squeeze", ["source", g.ints([1])]), g.ints([0, p, 0, 0])])
        tail = g.op("Max", [g.op("Sub", [padded_len, g.op("Shape", [src], start=1, end=2)]), g.ints([0])])
        src = g.op("Pad", [src, g.op("Concat", [g.ints([0, 0, 0]), tail], axis=0)])
        src = g.op("Slice", [src, g.ints([0]), padded_len, g.ints([1])])
        src = g.op("Reshape", [src, g.ints([0, 1, -1, s])])
        proj = g.op("MatMul", [src, g.const(blocks_w.numpy(), "w")])  # (B, 1, frames + n - 1, n C)
        total = g.op("Add", [x, g.const(_bias(layer).numpy(), "b")])
        for b in range(n):  # block q + b against the b-th S taps: rows b .. b + frames, columns of part b
            starts = g.ints([b, b * c])
            ends = g.op("Concat", [g.op("Add", [frames, g.ints([b])]), g.ints([(b + 1) * c])], axis=0)
            total = g.op("Add", [total, g.op("Slice", [proj, starts, ends, g.ints([2, 3])])])
        return total

    def resblock(self, name: str, block: nn.Module, x: str) -> str:
        """One residual block in int8 convolutions, its residual stream in float."""
        g = self.g
        for index, (first, second) in enumerate(_pairs(block)):
            unit = f"{name}.{index}"
            q_in, q_mid = self.q(f"{unit}.a.in"), self.q(f"{unit}.a.out")
            h = self.quantized_lrelu(x, q_in)
            h = g.qconv(h, q_in, first.weight, _bias(first), q_mid, dilation=first.dilation[0], pads=_same(first))
            q_out = q_mid
            if second is not None:
                q_b = self.q(f"{unit}.b.in")
                h = g.op(
                    "QLinearLeakyRelu", [h, *g.qparams(q_mid), *g.qparams(q_b)], "qlrelu", domain="com.microsoft",
                    alpha=LRELU_SLOPE,
                )  # fmt: skip
                q_out = self.q(f"{unit}.b.out")
                h = g.qconv(
                    h, q_b, second.weight, _bias(second), q_out, dilation=second.dilation[0], pads=_same(second)
                )
            x = g.op("Add", [g.dequantize(h, q_out), x])
        return x

    def conv_post(self, x: str, scale: float) -> str:
        """leaky ReLU, conv_post in float (channels-first: one output channel), tanh; [B, 1, samples]."""
        g, layer = self.g, self.vocoder.conv_post
        h = g.op("Transpose", [g.op("LeakyRelu", [x], alpha=POST_SLOPE)], perm=[0, 3, 1, 2])
        weight = (layer.weight.detach().float() / scale).unsqueeze(2).numpy()
        pad = int(layer.padding[0])
        h = g.op(
            "Conv", [h, g.const(weight, "w"), g.const(_bias(layer).numpy(), "b")], kernel_shape=[1, weight.shape[3]],
            pads=[0, pad, 0, pad],
        )  # fmt: skip
        return g.op("Squeeze", [g.op("Tanh", [h]), g.ints([2])], "wave")


def float_upsampling(layer: nn.ConvTranspose1d) -> bool:
    """Whether the graph keeps this upsampling layer float32 (`FLOAT_UPSAMPLING_FAN_IN`)."""
    taps = polyphase_weight(layer, frames_in=8).weight.shape[2]
    return int(layer.weight.shape[0]) * taps <= FLOAT_UPSAMPLING_FAN_IN


def graph_supported(vocoder: Generator) -> bool:
    """Whether `build_graph` can write this vocoder: every upsampling layer multiplies the length by exactly
    its stride (kernel - 2 padding = stride, as in every openvpi configuration) and every source
    convolution's kernel is a whole number of strides."""
    for up in vocoder.ups:
        assert isinstance(up, nn.ConvTranspose1d)
        try:
            poly = polyphase_weight(up, frames_in=8)
        except ValueError:
            return False
        if poly.length != poly.frames * up.stride[0]:
            return False
    sources = [vocoder.source_conv] if vocoder.mini_nsf else list(vocoder.noise_convs)
    return all(isinstance(layer, nn.Conv1d) and layer.kernel_size[0] % layer.stride[0] == 0 for layer in sources)


def _bias(layer: nn.Module) -> Tensor:
    """A convolution's bias, zeros where it has none."""
    if not isinstance(layer, nn.Conv1d | nn.ConvTranspose1d):
        raise TypeError(f"expected a convolution, got {type(layer).__name__}")
    bias = layer.bias
    return bias.detach().float() if bias is not None else torch.zeros(layer.weight.shape[0])


def _same(layer: nn.Conv1d) -> tuple[int, int]:
    pad = int(layer.padding[0])
    return pad, pad


def build_graph(vocoder: Generator, ranges: dict[str, tuple[float, float]], target: Path) -> None:
    """Write the int8 graph of `vocoder` for calibrated `ranges` (`record_ranges`) to `target`."""
    import onnx

    model = _Builder(vocoder, ranges).build()
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
