"""Reproducible noise for a voicebank's sampling graphs (acoustic, pitch, variance).

openvpi's exporters leave the starting noise of the flow inside the graph (a ``RandomNormalLike`` node without
a seed), so onnxruntime would draw different noise on every run and a phrase would never render the same
twice: the phrase cache, a fanned-out render equal to an in-process one, and "a zip and a folder give the same
samples" all need the noise to follow the phrase's seed, as the torch voices' does. At load, each top-level
``RandomNormalLike`` of those graphs is replaced by a graph input of the same name, whose shape (all but the
last, frame axis) comes from ONNX shape inference; a render feeds normal noise drawn from a numpy generator
seeded with (phrase seed, graph). A graph where that is not possible (no ``onnx`` package, a shape left unknown,
noise drawn inside a loop) keeps its own noise, and `SeededGraph.reproducible` says so.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class NoiseInput:
    """One noise input of a rewritten graph: its name, its static leading dims, and the node's mean / scale."""

    name: str
    leading: tuple[int, ...]  # the shape but the last (frames) axis
    mean: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class SeededGraph:
    """A graph's bytes with its noise as inputs (or its original file, when it could not be rewritten)."""

    model: Path | bytes
    noise: tuple[NoiseInput, ...]

    @property
    def reproducible(self) -> bool:
        """Whether the graph's noise now follows the seed."""
        return bool(self.noise)


def _static_leading(shape: object) -> tuple[int, ...] | None:
    dims = list(getattr(shape, "dim", []))
    if len(dims) < 2:
        return None
    leading = []
    for dim in dims[:-1]:
        if not dim.HasField("dim_value"):
            return None
        leading.append(int(dim.dim_value))
    return tuple(leading)


def rewrite(path: Path) -> SeededGraph:
    """`path`'s graph with each top-level RandomNormalLike replaced by an input (see the module docstring)."""
    try:
        import onnx
        from onnx import TensorProto, helper, shape_inference
    except ImportError:
        return SeededGraph(path, ())
    try:
        model = onnx.load(str(path))
    except Exception:
        return SeededGraph(path, ())
    nodes = [n for n in model.graph.node if n.op_type == "RandomNormalLike"]
    if not nodes:
        return SeededGraph(path, ())
    try:
        inferred = shape_inference.infer_shapes(model, data_prop=True)
    except Exception:
        return SeededGraph(path, ())
    shapes = {v.name: v.type.tensor_type.shape for v in (*inferred.graph.value_info, *inferred.graph.input)}
    found: list[NoiseInput] = []
    for node in nodes:
        leading = _static_leading(shapes.get(node.input[0]))
        if leading is None:
            return SeededGraph(path, ())
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        found.append(NoiseInput(node.output[0], leading, float(attrs.get("mean", 0.0)), float(attrs.get("scale", 1.0))))
    for node in nodes:
        model.graph.node.remove(node)
    for noise in found:
        model.graph.input.append(
            helper.make_tensor_value_info(noise.name, TensorProto.FLOAT, [*noise.leading, "noise_frames"])
        )
    return SeededGraph(model.SerializeToString(), tuple(found))


def draw(noise: tuple[NoiseInput, ...], kind: str, frames: int, seed: int) -> dict[str, NDArray[np.float32]]:
    """The noise inputs of graph `kind` for `frames` frames, from the phrase's `seed` (same seed, same noise)."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(kind.encode())])
    out: dict[str, NDArray[np.float32]] = {}
    for item in noise:
        values = rng.standard_normal((*item.leading, frames), dtype=np.float32)
        out[item.name] = (values * np.float32(item.scale) + np.float32(item.mean)).astype(np.float32)
    return out


class SeededNoise:
    """`PhraseRequest.extra_inputs` for one phrase: the noise of each rewritten graph, from the phrase's seed."""

    def __init__(self, graphs: Mapping[str, tuple[NoiseInput, ...]], seed: int) -> None:
        self.graphs = dict(graphs)
        self.seed = seed

    def __call__(self, kind: str, frames: int) -> dict[str, NDArray[np.float32]]:
        return draw(self.graphs.get(kind, ()), kind, frames, self.seed)
