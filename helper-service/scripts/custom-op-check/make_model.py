"""The one-node graph of the custom-operator check: y = reatco.Scale2(x)."""

import sys

import onnx
from onnx import TensorProto, helper

node = helper.make_node("Scale2", ["x"], ["y"], domain="reatco")
graph = helper.make_graph(
    [node],
    "scale2",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("reatco", 1)])
model.ir_version = 8
onnx.save(model, sys.argv[1])
