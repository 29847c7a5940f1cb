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

LYNXNet2 (openvpi's current default) runs the same recipe in ONNX Runtime instead on CPUs without AMX
(`OnnxInt8Backbone`, `onnx_faster`):
the backbone exported with its step embedding, the same Linear layers as int8 MatMuls (per-channel
weights, activations quantized per call), the same layers float32. Its int8 kernels (MLAS, VNNI) took
0.101 s per step against torch's 0.117 s at the default size on a 10 s phrase (Zen 4, 2 threads); each
GLU's Linear is written as two halves before quantizing (`glu_split`: no Split copy, the same numbers).
The model is built once per set of weights into the voice cache (`onnx_cache`), about 5 s at that size.
"""

from __future__ import annotations

import copy
import functools
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import structlog
import torch
from torch import Tensor, nn

from singer_tasks.voices.diffsinger.acoustic.backbones.lynxnet2 import LYNXNet2
from singer_tasks.voices.diffsinger.acoustic.glu_split import split_glu_matmuls
from singer_tasks.voices.onnx_cache import OnnxSession, cached_session, weights_digest

log = structlog.get_logger("singer.voices")
RECIPE = "lynxnet2-int8-dynamic-glu-split-nhwc-conv-v3"  # part of the cache key: change it with the recipe

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


def int8_backbone(
    backbone: nn.Module, cache_dir: Path | None = None, threads: int = 1, cpu_flags: Iterable[str] = ()
) -> Any:
    """The int8 denoiser for `backbone`: LYNXNet2 in ONNX Runtime (built into `cache_dir`, when given, on
    a CPU without AMX: `cpu_flags` are the CPU's), else torch's dynamic int8 copy (`torch_int8_backbone`).
    Either is called as the backbone is."""
    on_cpu = all(p.device.type == "cpu" for p in backbone.parameters())
    if (
        cache_dir is not None
        and on_cpu
        and isinstance(backbone, LYNXNet2)
        and quantizable_layers(backbone)
        and onnx_faster(cpu_flags)
    ):
        try:
            return OnnxInt8Backbone.for_backbone(backbone, cache_dir, threads)
        except Exception as e:  # an export this torch cannot do: torch's own int8 still serves
            log.warning("int8.onnx_backbone_failed", error=f"{type(e).__name__}: {e}")
    return torch_int8_backbone(backbone)


def onnx_faster(cpu_flags: Iterable[str]) -> bool:
    """Whether ONNX Runtime's int8 is the faster on a CPU with these flags: on VNNI CPUs (Zen 4: 1.13x
    torch's on a whole acoustic render), not where oneDNN has AMX tiles for torch's int8 (an AMX Xeon
    measured torch's int8 step 2.08x float32, ONNX Runtime's 1.14x)."""
    return "amx_int8" not in set(cpu_flags)


class OnnxInt8Backbone:
    """A LYNXNet2 backbone in ONNX Runtime with int8 inner MatMuls; called as the backbone is (spec, step,
    cond, cond_projected), its step-independent `project_condition` is the float32 backbone's."""

    def __init__(self, backbone: LYNXNet2, session: OnnxSession) -> None:
        self.project_condition = backbone.project_condition
        self.session = session

    @classmethod
    def for_backbone(cls, backbone: LYNXNet2, cache_dir: Path, threads: int) -> OnnxInt8Backbone:
        """From `cache_dir` (or built there first)."""
        key = weights_digest(RECIPE, backbone, backbone.state_dict().items())
        path = cache_dir / f"denoiser-{key}.onnx"
        session = cached_session(OnnxSession, path, lambda scratch, target: _build(backbone, scratch, target), threads)
        return cls(backbone, session)

    def __call__(self, spec: Tensor, step: Tensor, cond: Tensor, cond_projected: Tensor | None = None) -> Tensor:
        projected = self.project_condition(cond) if cond_projected is None else cond_projected
        steps = step.float().reshape(-1).expand(spec.shape[0])
        return self.session.run(spec=spec, step=steps, cond=projected)


class _Exported(nn.Module):
    """What is exported: the backbone on an already projected condition."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, spec: Tensor, step: Tensor, cond: Tensor) -> Tensor:
        return self.backbone(spec, step, cond, cond_projected=cond)  # type: ignore[no-any-return]


def _build(backbone: LYNXNet2, scratch: Path, target: Path) -> None:
    """Export the backbone, then quantize the MatMuls of `quantizable_layers` (dynamic, per-channel)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    exported, prepared = scratch / "net.onnx", scratch / "pre.onnx"
    bins, channels = backbone.output_projection.out_features, backbone.input_projection.out_features
    frames = 37  # any length: the exported graph takes every length
    example = (torch.zeros(1, 1, bins, frames), torch.zeros(1), torch.zeros(1, frames, channels))
    axes = {"spec": {0: "B", 3: "T"}, "step": {0: "B"}, "cond": {0: "B", 1: "T"}, "out": {0: "B", 3: "T"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's and the quantizer's notices
        with torch.no_grad():
            torch.onnx.export(
                _Exported(backbone), example, str(exported), input_names=["spec", "step", "cond"],
                output_names=["out"], dynamic_axes=axes, opset_version=17, dynamo=False,
            )  # fmt: skip
        quant_pre_process(str(exported), str(prepared), skip_symbolic_shape=True)
        graph = onnx.load(str(prepared))
        split_glu_matmuls(graph)  # no Split copy after a GLU's Linear (glu_split.py)
        onnx.save(graph, str(prepared))
        layers = quantizable_layers(backbone)
        nodes = [  # a node "/backbone/residual_layers.0/net.4/MatMul(.partN)" is module residual_layers.0.net.4
            node.name
            for node in graph.graph.node
            if node.op_type == "MatMul"
            and any(node.name.rsplit("/", 1)[0].replace("/", ".").endswith(f".{layer}") for layer in layers)
        ]
        if not nodes:
            raise ValueError("the exported graph names none of the layers to quantize")
        quantize_dynamic(
            str(prepared), str(target), per_channel=True, weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"], nodes_to_quantize=nodes,
        )  # fmt: skip


def torch_int8_backbone(backbone: nn.Module) -> nn.Module:
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
