"""Peak activation memory of an exported graph in the order ONNX Runtime runs it.

ONNX Runtime's default execution order (GraphViewer: Graph::ReverseDFSFrom over the leaf nodes,
each node's producers sorted by node index) is a depth-first walk from the outputs, not the file
order. For a joint forward+backward graph the two can differ by gigabytes, because the walk decides
which intermediate tensors are alive together. This module replays that walk over the graph file and
sums the sizes of the live tensors (from the exporter's value_info, symbolic dimensions evaluated
with the sizes given), so a graph's memory can be checked without a GPU.

It counts activations only (not weights, not kernel workspaces, not the CUDA arena's rounding) and
ignores ONNX Runtime's graph optimisations, which fuse nodes but keep the data dependencies.

  python -m reatco_models.ort_memory GRAPH.onnx s2=16 s22=2     (symbol=value for each dynamic dim)
"""

from __future__ import annotations

import collections
import sys
from dataclasses import dataclass

import onnx

# Outputs that ONNX Runtime lets share their input's buffer.
_ALIASING = {"Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"}
_SYMBOLIC = {"Min": min, "Max": max}


@dataclass
class Peak:
    bytes: int
    step: int
    steps: int
    live: dict[str, int]  # tensor name -> bytes, at the peak


def tensor_bytes(graph: onnx.GraphProto, sizes: dict[str, int]) -> dict[str, int]:
    """Bytes of every typed value; 0 where a dimension is unknown."""
    out = {}
    for value in [*graph.value_info, *graph.output, *graph.input]:
        t = value.type.tensor_type
        n = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).itemsize if t.elem_type else 0
        for d in t.shape.dim:
            if d.HasField("dim_value"):
                n *= d.dim_value
            elif d.HasField("dim_param"):
                try:
                    n *= int(eval(d.dim_param, dict(_SYMBOLIC), dict(sizes)))  # noqa: S307 - the exporter's own expressions
                except (NameError, SyntaxError, TypeError):
                    n = 0
            else:
                n = 0
        out[value.name] = n
    return out


def compute_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """The nodes ONNX Runtime schedules: Constant nodes become initializers when it loads a graph."""
    return [n for n in graph.node if n.op_type != "Constant"]


def default_order(nodes: list[onnx.NodeProto]) -> list[int]:
    """ONNX Runtime's default execution order: post-order of a depth-first walk from the leaf nodes
    (pushed in index order, so the last is walked first), each node's producers pushed in index order."""
    producer = {o: i for i, n in enumerate(nodes) for o in n.output}
    inputs = [sorted({producer[x] for x in n.input if x in producer}) for n in nodes]
    consumed = {p for ins in inputs for p in ins}
    stack = [(i, False) for i in range(len(nodes)) if i not in consumed]
    visited = [False] * len(nodes)
    order = []
    while stack:
        i, leaving = stack.pop()
        if leaving:
            order.append(i)
            continue
        if visited[i]:
            continue
        visited[i] = True
        stack.append((i, True))
        stack.extend((p, False) for p in inputs[i] if not visited[p])
    return order


def peak_memory(nodes: list[onnx.NodeProto], order: list[int], sizes: dict[str, int], outputs: list[str]) -> Peak:
    """Largest sum of live activation bytes while the nodes run in `order`. A tensor lives from its
    producer to its last consumer (graph outputs to the end); aliasing outputs share a buffer."""
    buffer = {}
    for i in order:
        node = nodes[i]
        for o in node.output:
            shares = node.op_type in _ALIASING and node.input and node.input[0] in buffer
            buffer[o] = buffer[node.input[0]] if shares else o
    last = {}
    for step, i in enumerate(order):
        for x in nodes[i].input:
            if x in buffer:
                last[buffer[x]] = step
    for o in outputs:
        if o in buffer:
            last[buffer[o]] = len(order)
    freed = collections.defaultdict(list)
    for name, step in last.items():
        freed[step].append(name)
    live: dict[str, int] = {}
    current = 0
    best = Peak(0, -1, len(order), {})
    for step, i in enumerate(order):
        for o in nodes[i].output:
            if buffer.get(o) == o:
                live[o] = sizes.get(o, 0)
                current += live[o]
                if o not in last:  # never read: freed at once
                    freed[step].append(o)
        if current > best.bytes:
            best = Peak(current, step, len(order), dict(live))
        for name in freed[step]:
            current -= live.pop(name, 0)
    return best


def graph_peak(graph: str | onnx.GraphProto, sizes: dict[str, int], order: str = "ort") -> Peak:
    """Peak activation memory of a graph (or graph file), in ONNX Runtime's order ("ort") or the file's ("file")."""
    if isinstance(graph, str):
        graph = onnx.load(graph, load_external_data=False).graph
    nodes = compute_nodes(graph)
    schedule = default_order(nodes) if order == "ort" else list(range(len(nodes)))
    return peak_memory(nodes, schedule, tensor_bytes(graph, sizes), [o.name for o in graph.output])


def main(argv: list[str]) -> int:
    path, *assignments = argv
    sizes = {k: int(v) for k, v in (a.split("=") for a in assignments)}
    graph = onnx.load(path, load_external_data=False).graph
    producers = {o: n.op_type for n in graph.node for o in n.output}
    for order in ("ort", "file"):
        peak = graph_peak(graph, sizes, order)
        print(f"{order} order: peak {peak.bytes / 2**30:.2f} GiB at node {peak.step} of {peak.steps}")
        for name, size in sorted(peak.live.items(), key=lambda kv: -kv[1])[:6]:
            print(f"  {size / 2**20:9.0f} MiB  {producers.get(name)}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
