"""Graph passes of the export, checked with ONNX Runtime itself (the runtime the helper uses)."""

from __future__ import annotations

import collections
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper
from torch import nn
from torch.export import Dim
from torch.fx.experimental.proxy_tensor import make_fx

from reatco_models import attention
from reatco_models.attention import HeadwiseAttention, first_and_previous
from reatco_models.export import _export, cast_layer_norm_statistics, gradient_decompositions
from reatco_models.ort_memory import graph_peak
from reatco_models.unet3d import group_norm_across_frames, upsample_nearest_2x


def _layer_norm_model() -> onnx.ModelProto:
    """LayerNormalization on float16 whose mean output is declared float16, as PyTorch traces it."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, [2, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT16, [2, 8])
    mean_out = helper.make_tensor_value_info("mean_out", TensorProto.FLOAT16, [2, 1])
    scale = helper.make_tensor("scale", TensorProto.FLOAT16, [8], np.ones(8, np.float16).tobytes(), raw=True)
    bias = helper.make_tensor("bias", TensorProto.FLOAT16, [8], np.zeros(8, np.float16).tobytes(), raw=True)
    nodes = [
        helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y", "mean", "inv_std"], axis=-1),
        helper.make_node("Identity", ["mean"], ["mean_out"]),
    ]
    declared = [helper.make_tensor_value_info(n, TensorProto.FLOAT16, [2, 1]) for n in ("mean", "inv_std")]
    graph = helper.make_graph(nodes, "ln", [x], [y, mean_out], [scale, bias], value_info=declared)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], ir_version=10)


def test_layer_norm_statistics_are_cast_to_their_traced_type():
    model = _layer_norm_model()
    with pytest.raises(Exception, match="does not match expected type"):
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert cast_layer_norm_statistics(model) == 2
    x = np.random.default_rng(0).standard_normal((2, 8)).astype(np.float16)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    _, mean = session.run(None, {"x": x})
    np.testing.assert_allclose(mean, x.astype(np.float32).mean(-1, keepdims=True), atol=1e-3)


def test_layer_norm_statistics_read_back_as_float32_skip_the_float16_rounding():
    """gradient_norms.row_moments casts traced float16 statistics back to float32: its readers must
    get the float32 stash itself (a mean near 1000 has float16 steps of 0.5)."""
    model = _layer_norm_model()
    identity = next(n for n in model.graph.node if n.op_type == "Identity")
    identity.op_type = "Cast"
    identity.attribute.append(helper.make_attribute("to", TensorProto.FLOAT))
    model.graph.output[1].type.tensor_type.elem_type = TensorProto.FLOAT
    assert cast_layer_norm_statistics(model) == 1  # only the unread inverse deviation
    x = (1000 + np.random.default_rng(0).standard_normal((2, 8)) * 0.3).astype(np.float16)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    _, mean = session.run(None, {"x": x})
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(-1, keepdims=True), rtol=1e-6)


@pytest.mark.parametrize("all_heads", [True, False], ids=["all heads at once", "head by head"])
def test_headwise_attention_gradient_is_attentions_gradient(tmp_path, monkeypatch, all_heads):
    """The RAD graph's attention (fused forward, recomputing backward: all heads in one product for
    small maps, one head at a time for large ones), exported and run in ONNX Runtime, gives the
    gradient torch.autograd takes through plain softmax attention."""
    heads = 2
    if not all_heads:
        monkeypatch.setattr(attention, "ALL_HEADS_MAX_ELEMENTS", 0)

    def gradient(q, k, v, w):
        q, k, v = (t.requires_grad_() for t in (q, k, v))
        out = HeadwiseAttention.apply(q, k, v, heads)
        return torch.autograd.grad((out * w).sum(), (q, k, v))

    def plain_gradient(q, k, v, w):
        q, k, v = (t.requires_grad_() for t in (q, k, v))
        split = lambda t: t.reshape(1, -1, heads, 4).transpose(1, 2)  # noqa: E731
        p = torch.softmax(split(q) @ split(k).transpose(-1, -2) / 2, dim=-1)
        out = (p @ split(v)).transpose(1, 2).reshape(q.shape)
        return torch.autograd.grad((out * w).sum(), (q, k, v))

    g = torch.Generator().manual_seed(0)
    args = [torch.randn(1, 6, 8, generator=g), torch.randn(1, 12, 8, generator=g), torch.randn(1, 12, 8, generator=g), torch.randn(1, 6, 8, generator=g)]
    traced = make_fx(gradient, decomposition_table=gradient_decompositions())(*args)
    path = tmp_path / "attention_grad.onnx"
    _export(traced, args, path, ["q", "k", "v", "w"], ["dq", "dk", "dv"], None, rewrite=False)
    ops = collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    assert ops["MultiHeadAttention"] == 1 and ops["Softmax"] == (1 if all_heads else heads), ops  # fused forward, one softmax back per group

    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {n: a.detach().numpy() for n, a in zip("qkvw", args)})
    expected = plain_gradient(*(a.detach().clone() for a in args))
    for actual, reference in zip(got, expected):
        np.testing.assert_allclose(actual, reference.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_sparse_causal_keys_backward_has_no_scatter(tmp_path):
    """ONNX Runtime's CUDA ScatterND ran at ~0.5 GB/s on the SD-1.x RAD graph, and SplitToSequence
    (a split of a dynamic frame count) took 14% of the pass: the frame selection's backward, traced
    with the frame count dynamic as in the RAD graph, must be products and sums only, and equal
    torch.autograd's."""
    frames = 4

    def gradient(t, w):
        t = t.requires_grad_()
        return torch.autograd.grad((first_and_previous(t, t.shape[0] // 2) * w).sum(), t)[0]

    g = torch.Generator().manual_seed(0)
    args = [torch.randn(2 * frames, 5, 3, generator=g), torch.randn(2 * frames, 10, 3, generator=g)]
    traced = make_fx(gradient, decomposition_table=gradient_decompositions(), tracing_mode="symbolic")(*args)
    path = tmp_path / "keys_grad.onnx"
    _export(traced, args, path, ["t", "w"], ["dt"], ({0: Dim.AUTO}, {0: Dim.AUTO}), rewrite=False)
    ops = collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    assert ops["ScatterND"] == ops["ScatterElements"] == ops["SplitToSequence"] == 0, ops

    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"t": args[0].detach().numpy(), "w": args[1].numpy()})
    np.testing.assert_allclose(got, gradient(args[0].detach().clone(), args[1]).numpy(), rtol=1e-5, atol=1e-6)
    # Frame 0 is every frame's first key and frame 1's previous one: its gradient collects both.
    w = args[1].reshape(2, frames, 10, 3)
    expected0 = w[:, :, :5].sum(1) + w[:, 0, 5:] + w[:, 1, 5:]
    np.testing.assert_allclose(got.reshape(2, frames, 5, 3)[:, 0], expected0.numpy(), rtol=1e-5, atol=1e-6)


def test_upsample_backward_has_no_scatter(tmp_path):
    """Nearest upsampling's gradient in the RAD graph: a sum over each 2x2 block, with no ScatterND
    (three of them took 27 ms of the SD-1.x pass at 16 frames)."""

    def gradient(x, w):
        x = x.requires_grad_()
        return torch.autograd.grad((upsample_nearest_2x(x) * w).sum(), x)[0]

    g = torch.Generator().manual_seed(0)
    args = [torch.randn(4, 3, 5, 7, generator=g), torch.randn(4, 3, 10, 14, generator=g)]
    traced = make_fx(gradient, decomposition_table=gradient_decompositions(), tracing_mode="symbolic")(*args)
    path = tmp_path / "upsample_grad.onnx"
    _export(traced, args, path, ["x", "w"], ["dx"], ({0: Dim.AUTO}, {0: Dim.AUTO}), rewrite=False)
    ops = collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    assert ops["ScatterND"] == ops["ScatterElements"] == 0, ops

    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": args[0].numpy(), "w": args[1].numpy()})
    expected = args[1].reshape(4, 3, 5, 2, 7, 2).sum((3, 5))
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-5, atol=1e-6)


def test_group_norm_is_torchs_on_the_clip(tmp_path):
    """GroupNorm over (frames, channels of the group, height, width) and its gradient as the ε graph
    exports them, run in ONNX Runtime, equal torch's GroupNorm on the 5-D clip (the RAD graph's own
    form: test_gradient_norms)."""
    frames, groups = 3, 4
    norm = nn.GroupNorm(groups, 8)
    g = torch.Generator().manual_seed(0)
    norm.weight.data, norm.bias.data = 1 + torch.randn(8, generator=g), torch.randn(8, generator=g)

    def gradient(x, w):
        x = x.requires_grad_()
        y = group_norm_across_frames(x, norm, frames, silu=True)
        return y, torch.autograd.grad((y * w).sum(), x)[0]

    args = [torch.randn(2 * frames, 8, 5, 7, generator=g), torch.randn(2 * frames, 8, 5, 7, generator=g)]
    traced = make_fx(gradient, decomposition_table=gradient_decompositions())(*args)
    path = tmp_path / "group_norm_grad.onnx"
    _export(traced, args, path, ["x", "w"], ["y", "dx"], None, rewrite=False)

    y, dx = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": args[0].detach().numpy(), "w": args[1].numpy()})
    clip = lambda t: t.reshape(2, frames, 8, 5, 7).transpose(1, 2)  # noqa: E731  (b, c, f, h, w)
    x = args[0].detach().clone().requires_grad_()
    expected = F.silu(norm(clip(x)))
    (expected_dx,) = torch.autograd.grad((expected * clip(args[1])).sum(), x)
    np.testing.assert_allclose(y, expected.transpose(1, 2).reshape(2 * frames, 8, 5, 7).detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dx, expected_dx.numpy(), rtol=1e-4, atol=1e-5)


_PEAK_RSS = textwrap.dedent("""
    import re, sys
    import numpy as np, onnxruntime as ort
    options = ort.SessionOptions()
    options.enable_cpu_mem_arena = False  # freed tensors go back to the system, so RSS follows them
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(sys.argv[1], options, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.random.default_rng(0).standard_normal(i.shape).astype(np.float32) for i in session.get_inputs()}
    rss = lambda key: int(re.search(key + r":\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
    open("/proc/self/clear_refs", "w").write("5")  # resets the peak (VmHWM) to the current RSS
    before = rss("VmRSS")
    session.run(None, feeds)
    print(rss("VmHWM") - before)
""")


def test_headwise_backward_holds_one_head_at_a_time_in_ort_order(tmp_path, monkeypatch):
    """ONNX Runtime runs a depth-first order from the outputs: the backward of large maps must still
    finish one head before the next, or every head's probabilities and their gradient are alive
    together (the SD-1.x RAD graph: 16 GB at 4 frames of 448x768 instead of 3). Checked on the graph
    file in ONNX Runtime's order and by the peak memory ONNX Runtime itself reaches; these maps count
    as large here."""
    heads, batch, tokens, channels = 8, 4, 1024, 64
    monkeypatch.setattr(attention, "ALL_HEADS_MAX_ELEMENTS", 0)

    def gradient(q, k, v, w):
        q, k, v = (t.requires_grad_() for t in (q, k, v))
        return torch.autograd.grad((HeadwiseAttention.apply(q, k, v, heads) * w).sum(), (q, k, v))

    g = torch.Generator().manual_seed(0)
    shapes = [(batch, tokens, channels), (batch, 2 * tokens, channels), (batch, 2 * tokens, channels), (batch, tokens, channels)]
    args = [torch.randn(*s, generator=g) for s in shapes]
    traced = make_fx(gradient, decomposition_table=gradient_decompositions())(*args)
    path = tmp_path / "attention_grad.onnx"
    _export(traced, args, path, ["q", "k", "v", "w"], ["dq", "dk", "dv"], None, rewrite=False)

    one_map = batch * tokens * 2 * tokens * 4  # one head's probabilities, float32: 32 MiB
    predicted = graph_peak(str(path), {}).bytes
    assert predicted <= 4 * one_map, predicted / one_map  # all heads at once: 2 * heads = 16 maps
    measured = int(subprocess.run([sys.executable, "-c", _PEAK_RSS, str(path)], capture_output=True, text=True, check=True).stdout)
    assert measured <= 8 * one_map, measured / one_map
