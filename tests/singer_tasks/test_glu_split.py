"""The GLU split pass on an exported graph: the same outputs, no Split, and nothing else touched."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from singer_tasks.voices.diffsinger.acoustic.glu_split import split_glu_matmuls


def _model(sizes: list[int], with_bias: bool = True, second_reader: bool = False) -> onnx.ModelProto:
    """x [2, 5, 4] -> MatMul(W [4, 6]) (+ b) -> Split(sizes, axis -1) -> value * atan(gate)."""
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.standard_normal((4, 6)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "b"),
        numpy_helper.from_array(np.array(sizes, np.int64), "sizes"),
    ]
    nodes = [helper.make_node("MatMul", ["x", "W"], ["p"], name="/net.4/MatMul")]
    split_input = "p"
    if with_bias:
        nodes.append(helper.make_node("Add", ["p", "b"], ["pb"], name="/net.4/Add"))
        split_input = "pb"
    nodes += [
        helper.make_node("Split", [split_input, "sizes"], ["v", "g"], name="/net.5/Split", axis=-1),
        helper.make_node("Atan", ["g"], ["ag"]),
        helper.make_node("Mul", ["v", "ag"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if second_reader:  # the product is read elsewhere too: the Split must stay
        outputs.append(helper.make_tensor_value_info(split_input, TensorProto.FLOAT, None))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 5, 4])
    graph = helper.make_graph(nodes, "g", [x], outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["y"], {"x": x})[0]  # type: ignore[no-any-return]


def test_a_glu_linear_becomes_two_halves_with_the_same_output() -> None:
    x = np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)
    for with_bias in (True, False):
        model = _model([3, 3], with_bias=with_bias)
        before = _run(model, x)
        assert split_glu_matmuls(model) == 1
        kinds = [node.op_type for node in model.graph.node]
        assert "Split" not in kinds and kinds.count("MatMul") == 2
        assert {init.name for init in model.graph.initializer}.isdisjoint({"W", "sizes"})  # the old ones dropped
        np.testing.assert_allclose(_run(model, x), before, rtol=1e-6, atol=1e-6)


def test_unequal_parts_or_another_reader_are_left_alone() -> None:
    for model in (_model([2, 4]), _model([3, 3], second_reader=True)):
        before = model.SerializeToString()
        assert split_glu_matmuls(model) == 0
        assert model.SerializeToString() == before
