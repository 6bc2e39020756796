"""Fused operators of the "reatco" domain in the RAD gradient graph, for ONNX Runtime's CUDA provider
(kernels in helper-service/native/ops; the graph then needs that library in its session's options).

SoftmaxTimesGrad(S, G) -> (P, dS) replaces a Softmax over the last axis whose output P is multiplied
by a tensor G of its own shape that does not depend on P: the attention backward's P = softmax(q kᵀ)
and dS = P ∘ (dO vᵀ - D) (attention.HeadwiseAttention). One pass over the maps instead of two nodes:
on the H200 1.77 ms against 2.2 + 1.6 ms per full-resolution head at 16 frames.
"""

from __future__ import annotations

import collections
import onnx
from onnx import helper

DOMAIN = "reatco"


def _shape(info: onnx.ValueInfoProto) -> tuple | None:
    if not info.type.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_param or d.dim_value or None for d in info.type.tensor_type.shape.dim)


def _downstream(start: str, readers: dict[str, list[onnx.NodeProto]]) -> set[str]:
    """Every tensor computed from `start`."""
    seen, todo = {start}, [start]
    while todo:
        for node in readers[todo.pop()]:
            for out in node.output:
                if out and out not in seen:
                    seen.add(out)
                    todo.append(out)
    return seen


def _topological(nodes: list[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """The nodes in an order where each comes after the producers of its inputs (stable otherwise;
    subgraphs' outer references are not followed: the RAD graph has none)."""
    producer = {out: i for i, node in enumerate(nodes) for out in node.output if out}
    waiting = [sum(1 for name in set(n.input) if name in producer) for n in nodes]
    readers = collections.defaultdict(list)
    for i, node in enumerate(nodes):
        for name in set(node.input):
            if name in producer:
                readers[producer[name]].append(i)
    ready = collections.deque(i for i, w in enumerate(waiting) if w == 0)
    order = []
    while ready:
        i = ready.popleft()
        order.append(nodes[i])
        for j in readers[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                ready.append(j)
    if len(order) != len(nodes):
        raise ValueError("the graph has a cycle")
    return order


def fuse_softmax_times_grad(model: onnx.ModelProto) -> int:
    """Rewrites `model` in place; returns how many Softmax + Mul pairs became SoftmaxTimesGrad.
    Shapes and types come from the graph's value_info (the dynamo exporter writes them): a pair whose
    shapes are unknown or differ (a broadcast), or whose types differ, is left alone."""
    graph = model.graph
    infos = [*graph.value_info, *graph.input, *graph.output]
    shapes = {v.name: _shape(v) for v in infos}
    types = {v.name: v.type.tensor_type.elem_type for v in infos}
    nodes = list(graph.node)  # one set of message objects throughout: ids below refer to these
    readers: dict[str, list[onnx.NodeProto]] = collections.defaultdict(list)
    for node in nodes:
        for name in node.input:
            readers[name].append(node)
    replaced: dict[int, onnx.NodeProto | None] = {}
    for softmax in nodes:
        axis = next((a.i for a in softmax.attribute if a.name == "axis"), -1)
        if softmax.op_type != "Softmax" or softmax.domain not in ("", "ai.onnx") or axis != -1:
            continue
        probs = softmax.output[0]
        shape = shapes.get(probs)
        if shape is None or None in shape:
            continue
        later = None
        for mul in readers[probs]:
            if mul.op_type != "Mul" or id(mul) in replaced or list(mul.input).count(probs) != 1:
                continue
            other = mul.input[1] if mul.input[0] == probs else mul.input[0]
            if shapes.get(other) != shape or types.get(other) != types.get(probs):
                continue
            later = later or _downstream(probs, readers)
            if other in later:  # the softmax's own backward reads P on both sides
                continue
            fused = helper.make_node(
                "SoftmaxTimesGrad", [softmax.input[0], other], [probs, mul.output[0]], name=f"{softmax.name or probs}_times_grad", domain=DOMAIN
            )
            replaced[id(softmax)] = fused
            replaced[id(mul)] = None
            break
    if not replaced:
        return 0
    kept = [replaced.get(id(n), n) for n in nodes]
    ordered = _topological([n for n in kept if n is not None])
    del graph.node[:]
    graph.node.extend(ordered)
    if not any(o.domain == DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(DOMAIN, 1))
    return sum(1 for n in replaced.values() if n is not None)
