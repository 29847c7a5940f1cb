"""Test helper: rewrite an ONNX graph so that the noise its RandomNormalLike node draws becomes a graph input.

The sampling graphs of a DiffSinger voicebank draw their starting noise inside the graph; to reproduce a
reference case the test feeds the case's noise instead. Uses the `onnx` package (a test-only dependency).
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper


def _remove_producer(graph: onnx.GraphProto, output: str) -> bool:
    """Drop the RandomNormalLike node producing `output`, searching subgraphs (Loop/If bodies) too."""
    for node in list(graph.node):
        if node.op_type == "RandomNormalLike" and output in node.output:
            graph.node.remove(node)
            return True
        for attr in node.attribute:
            subgraphs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
            if any(_remove_producer(g, output) for g in subgraphs):
                return True
    return False


def noise_as_input(model_path: Path, outputs: list[str]) -> bytes:
    """Model bytes where each RandomNormalLike output named in `outputs` is a float graph input instead."""
    model = onnx.load(str(model_path))
    for name in outputs:
        if not _remove_producer(model.graph, name):
            raise ValueError(f"{model_path}: no RandomNormalLike node produces {name!r}")
        model.graph.input.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    return model.SerializeToString()
