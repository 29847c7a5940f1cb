"""Int8 weights for the denoiser backbone: the fast path of CPUs without native bfloat16.

Where a CPU has AVX-512 VNNI (or AVX-VNNI) but no bf16, bf16 autocast is emulated and slower than float32,
while int8 matrix products run on VNNI. `int8_backbone` returns a copy of a backbone whose inner Linear
layers (LYNXNet2's GLU MLPs: nearly all of its arithmetic) hold int8 weights, one scale per output
channel, and quantize their input on the fly (torch's dynamic quantization, fbgemm/oneDNN kernels).

Kept in float32, because their error reaches the output directly or they cost nothing: the input and
output projections, the step embedding and its projections, and the conditioner projection. Measured at
openvpi's default size (LYNXNet2 1024 x 6, 20 euler steps over depth 0.6, random weights, 5 s phrase):
quantizing every Linear moves the mel by a mean 0.018 (per-tensor weight scales) or 0.015 (per-channel);
with those layers in float32, by 0.001, at the same speed (the render about 2x float32's). Backbones
without Linear layers inside their residual stack (WaveNet, LYNXNet: 1x1 convolutions) come back
unchanged, so int8 renders them exactly.

torch marks its quantized tensor types deprecated (to move to torchao); they work in the pinned torch.
`int8_supported` says whether this torch can do it; callers fall back to float32 when it cannot.
"""

from __future__ import annotations

import copy
import functools
import warnings

import torch
from torch import nn

# Layers left in float32: a module whose dotted name inside the backbone has one of these parts. The
# step embedding and projections (WaveNet's diffusion_projection, mlp) see one row per step: no gain.
FLOAT32_LAYERS = frozenset(
    {
        "input_projection",
        "output_projection",
        "diffusion_embedding",
        "diffusion_projection",
        "conditioner_projection",
        "mlp",
    }
)


@functools.cache
def int8_supported() -> bool:
    """True when torch has a dynamic int8 Linear kernel here (x86 fbgemm / oneDNN engines)."""
    try:
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            qconfig = {"0": per_channel_dynamic_qconfig}
            probe = quantize_dynamic(nn.Sequential(nn.Linear(8, 8)), qconfig)  # type: ignore[no-untyped-call]
            probe(torch.ones(2, 8))
        return True
    except (ImportError, RuntimeError, AttributeError, NotImplementedError):
        return False


def quantizable_layers(backbone: nn.Module) -> list[str]:
    """Names of the Linear layers `int8_backbone` converts (all but the float32 ones)."""
    return [
        name
        for name, module in backbone.named_modules()
        if type(module) is nn.Linear and not FLOAT32_LAYERS.intersection(name.split("."))
    ]


def int8_backbone(backbone: nn.Module) -> nn.Module:
    """A copy of `backbone` with its inner Linear layers in dynamic int8 (per-channel weight scales).

    The original is untouched (exact renders keep using it). Returns the backbone itself when it has
    nothing to convert, lives off the CPU, or torch cannot (`int8_supported`)."""
    names = quantizable_layers(backbone)
    on_cpu = all(p.device.type == "cpu" for p in backbone.parameters())  # the kernels are CPU ones
    if not names or not on_cpu or not int8_supported():
        return backbone
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecation notice of torch.ao's quantized tensors
        converted: nn.Module = quantize_dynamic(  # type: ignore[no-untyped-call]
            copy.deepcopy(backbone), {name: per_channel_dynamic_qconfig for name in names}, inplace=False
        )
    return converted.eval()
