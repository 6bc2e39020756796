"""reatco.SoftmaxTimesGrad: the graph pass (fused_ops) and the CPU kernel of the custom-operator
library (helper-service/native), run in ONNX Runtime against the graph without it; and tiny-random's
unet_rad_cuda, with the fused backwards, against its plain RAD graph (its heads are small enough for
AttentionGrad throughout, so no written-out attention backward, and no SoftmaxTimesGrad, is left)."""

from __future__ import annotations

import collections
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from reatco_models.attention import FUSED_MAX_HEAD_SIZE
from reatco_models.fused_ops import DOMAIN, fuse_softmax_times_grad

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "models" / "tiny-random"


def _session(model: onnx.ModelProto, library: Path | None = None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    if library is not None:
        options.register_custom_ops_library(str(library))
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _softmax_then_mul(g_from_p: bool = False, g_shape=(2, 3, 5)) -> onnx.ModelProto:
    """y = softmax(s) * g, with g an input or (g_from_p) computed from the softmax itself."""
    nodes = [helper.make_node("Softmax", ["s"], ["p"], axis=-1)]
    if g_from_p:
        nodes.append(helper.make_node("Neg", ["p"], ["g"]))
    nodes += [helper.make_node("Mul", ["p", "g"], ["y"]), helper.make_node("Transpose", ["p"], ["pt"], perm=[0, 2, 1])]
    inputs = [helper.make_tensor_value_info("s", TensorProto.FLOAT, [2, 3, 5])]
    if not g_from_p:
        inputs.append(helper.make_tensor_value_info("g", TensorProto.FLOAT, list(g_shape)))
    graph = helper.make_graph(
        nodes,
        "softmax_then_mul",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 5]), helper.make_tensor_value_info("pt", TensorProto.FLOAT, [2, 5, 3])],
        value_info=[helper.make_tensor_value_info("p", TensorProto.FLOAT, [2, 3, 5])] + ([helper.make_tensor_value_info("g", TensorProto.FLOAT, [2, 3, 5])] if g_from_p else []),
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)


def test_softmax_times_grad_fuses_the_pair_and_keeps_p_for_its_other_readers(library):
    model = _softmax_then_mul()
    rng = np.random.default_rng(0)
    feeds = {"s": rng.normal(size=(2, 3, 5)).astype(np.float32) * 3, "g": rng.normal(size=(2, 3, 5)).astype(np.float32)}
    want = _session(model).run(None, feeds)
    assert fuse_softmax_times_grad(model) == 1
    assert [n.op_type for n in model.graph.node] == ["SoftmaxTimesGrad", "Transpose"]
    assert any(o.domain == DOMAIN for o in model.opset_import)
    got = _session(model, library).run(None, feeds)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_softmax_times_grad_leaves_a_broadcast_and_the_softmax_backward_alone():
    assert fuse_softmax_times_grad(_softmax_then_mul(g_shape=(2, 3, 1))) == 0
    assert fuse_softmax_times_grad(_softmax_then_mul(g_from_p=True)) == 0  # g depends on p: fusing would make a cycle


def _rad_feeds(model: onnx.ModelProto, frames: int = 2) -> dict[str, np.ndarray]:
    """Inputs for tiny-random's RAD graph at 128 x 160 (latent 32 x 40, attention 8 x 10), two objects."""
    rng = np.random.default_rng(1)
    cells, k = 8 * 10, 2
    weights = rng.uniform(size=(k, frames, cells)).astype(np.float32)
    return {
        "latent": rng.normal(size=(1, 4, frames, 32, 40)).astype(np.float32),
        "timestep": np.array([501.0], np.float32),
        "encoder_hidden_states": rng.normal(size=(1, 77, 32)).astype(np.float32),
        "region_masks": (rng.uniform(size=(k, frames, 8, 10)) > 0.5).astype(np.float32),
        "token_indices": np.array([3, 7], np.int64),
        "rank_weights_fg": weights / weights.sum(-1, keepdims=True),
        "rank_weights_bg": weights[::-1] / weights.sum(-1, keepdims=True),
        "loss_weights_fg": np.ones(k, np.float32),
        "loss_weights_bg": np.ones(k, np.float32),
        "loss_weights_max": np.zeros(k, np.float32),
    }


def test_rad_graph_with_softmax_times_grad_gives_the_same_gradient(library):
    """tiny-random's whole RAD gradient graph, its attention backwards fused, against the graph as it is."""
    model = onnx.load(str(TINY / "unet_rad.onnx"))  # with its weights, small enough for one file
    feeds = _rad_feeds(model)
    want = _session(model).run(None, feeds)
    softmaxes = collections.Counter(n.op_type for n in model.graph.node)["Softmax"]
    fused = fuse_softmax_times_grad(model)
    assert fused > 0 and collections.Counter(n.op_type for n in model.graph.node)["Softmax"] == softmaxes - fused
    _same_outputs(model, _session(model, library).run(None, feeds), want)


def _same_outputs(model: onnx.ModelProto, got: list, want: list) -> None:
    # float32 sums in other orders: the attention backward's terms cancel to ~1e-3 of the largest.
    for name, a, b in zip([o.name for o in model.graph.output], got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=4e-6 * float(np.abs(b).max()), err_msg=name)


def test_committed_cuda_rad_graph_has_the_fused_backwards_and_the_plain_graphs_gradient(library):
    plain = onnx.load(str(TINY / "unet_rad.onnx"))
    cuda = onnx.load(str(TINY / "unet_rad_cuda.onnx"))
    fused = collections.Counter(n.op_type for n in cuda.graph.node if n.domain == DOMAIN)
    assert set(fused) == {"NormGradRowMeans", "NormGradApply", "LayerNormGrad", "GatedGeluGrad", "AttentionRowStats", "AttentionGrad"}, fused
    assert fused["NormGradRowMeans"] == fused["NormGradApply"] and fused["AttentionRowStats"] == fused["AttentionGrad"]
    feeds = _rad_feeds(plain)
    _same_outputs(cuda, _session(cuda, library).run(None, feeds), _session(plain).run(None, feeds))


def _attention_grad_model(v_tokens: int) -> onnx.ModelProto:
    """AttentionGrad alone, 2 heads of 4 columns, 3 queries over 5 keys; v with v_tokens rows."""
    f = TensorProto.FLOAT
    inputs = [("q", [1, 3, 8]), ("k", [1, 5, 8]), ("v", [1, v_tokens, 8]), ("grad_out", [1, 3, 8]), ("lse", [1, 2, 3]), ("rowdot", [1, 2, 3]), ("grad_scale", [1])]
    node = helper.make_node("AttentionGrad", [n for n, _ in inputs], ["dq", "dk", "dv"], domain=DOMAIN, heads=2)
    graph = helper.make_graph(
        [node],
        "attention_grad",
        [helper.make_tensor_value_info(n, f, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, f, None) for n in ("dq", "dk", "dv")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(DOMAIN, 1)], ir_version=10)


def test_attention_grad_refuses_mismatched_shapes_with_a_clear_error(library):
    rng = np.random.default_rng(2)

    def feeds(v_tokens: int) -> dict[str, np.ndarray]:
        shapes = {"q": (1, 3, 8), "k": (1, 5, 8), "v": (1, v_tokens, 8), "grad_out": (1, 3, 8), "lse": (1, 2, 3), "rowdot": (1, 2, 3), "grad_scale": (1,)}
        return {n: rng.normal(size=s).astype(np.float32) for n, s in shapes.items()}

    assert [o.shape for o in _session(_attention_grad_model(5), library).run(None, feeds(5))] == [(1, 3, 8), (1, 5, 8), (1, 5, 8)]
    with pytest.raises(Exception, match="v must have k's shape"):
        _session(_attention_grad_model(4), library).run(None, feeds(4))


def test_the_export_fuses_only_head_sizes_the_cuda_kernels_take():
    """A graph with AttentionGrad for a head size the CUDA kernels refuse would open and then fail at
    its first run: the export's limit is the kernels' own."""
    header = (ROOT / "helper-service" / "native" / "ops" / "attention_grad.h").read_text()
    assert int(re.search(r"kAttentionMaxHeadSize = (\d+);", header).group(1)) == FUSED_MAX_HEAD_SIZE
