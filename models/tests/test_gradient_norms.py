"""The RAD graph's norms and GEGLU (gradient_norms) and its self-attention (attention.HeadwiseAttention):
exported as the RAD graph is (make_fx with the gradient decompositions, symbolic sizes) and run in ONNX
Runtime, they give torch's modules' outputs and gradients, written out in ONNX operators and as reatco's
fused backwards (fused_backwards, run by helper-service/native's CPU kernels); the norms' and GEGLU's,
exported in fp16, make no float32 tensor of the activation's size."""

from __future__ import annotations

import collections
import contextlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.export import Dim
from torch.fx.experimental.proxy_tensor import make_fx

from reatco_models.attention import GEGLU, HeadwiseAttention, _layer_norm, explicit_attention
from reatco_models.export import _export, cast_layer_norm_statistics, cast_mixed_arithmetic, gradient_decompositions
from reatco_models.fused_backwards import DOMAIN, fused_backwards, merge_heads, split_heads
from reatco_models.unet3d import group_norm_across_frames

FRAMES = 3
HEADS = 2


def _modules(dtype=torch.float32) -> dict:
    g = torch.Generator().manual_seed(0)
    group, layer, geglu = nn.GroupNorm(4, 8), nn.LayerNorm(8), GEGLU(8, 8)
    for norm in (group, layer):
        norm.weight.data, norm.bias.data = 1 + torch.randn(8, generator=g), torch.randn(8, generator=g)
    return {"group": group.to(dtype), "layer": layer.to(dtype), "geglu": geglu.to(dtype)}


def _case(name: str, modules: dict, silu: bool = True):
    """(function of x in the RAD graph's form, torch's own function of x, x's shape)."""
    if name == "group":
        norm = modules["group"]
        clip = lambda t: t.reshape(-1, FRAMES, *t.shape[1:]).transpose(1, 2)  # noqa: E731  (b, c, f, h, w)
        frames_major = lambda t: t.transpose(1, 2).reshape(-1, *t.shape[1:2], *t.shape[3:])  # noqa: E731
        plain = lambda x: frames_major((F.silu if silu else (lambda t: t))(norm(clip(x))))  # noqa: E731
        return (lambda x: group_norm_across_frames(x, norm, FRAMES, silu)), plain, (2 * FRAMES, 8, 5, 7)
    if name == "layer":
        return (lambda x: _layer_norm(modules["layer"], x)), modules["layer"], (2, 15, 8)
    if name == "attention":
        # Self-attention over twice the tokens, as the sparse-causal layers have; 15 queries and 30
        # keys leave partial tiles in the kernels.
        keys = lambda x: torch.cat([x, x.flip(1) * 0.5], dim=1)  # noqa: E731
        plain = lambda x: merge_heads(F.scaled_dot_product_attention(*(split_heads(t, HEADS) for t in (x, keys(x), keys(x) * -1))))  # noqa: E731
        return (lambda x: HeadwiseAttention.apply(x, keys(x), keys(x) * -1, HEADS)), plain, (2, 15, 8)
    geglu = modules["geglu"]

    def plain(x):
        hidden, gate = geglu.proj(x).chunk(2, dim=-1)
        return hidden * F.gelu(gate)

    return geglu, plain, (2, 15, 8)


def _export_gradient(fn, args, path, symbolic: bool, fused: bool = False) -> onnx.ModelProto:
    def gradient(x, w):
        x = x.requires_grad_()
        y = fn(x)
        return y, torch.autograd.grad((y * w).sum(), x)[0]

    with explicit_attention(), fused_backwards() if fused else contextlib.nullcontext():
        traced = make_fx(gradient, decomposition_table=gradient_decompositions(), tracing_mode="symbolic" if symbolic else "real", _allow_non_fake_inputs=True)(*args)
    dynamic = ({0: Dim.AUTO, 1: Dim.AUTO}, {0: Dim.AUTO, 1: Dim.AUTO}) if symbolic else None
    _export(traced, args, path, ["x", "w"], ["y", "dx"], dynamic, rewrite=False)
    model = onnx.load(str(path))
    cast_layer_norm_statistics(model)
    cast_mixed_arithmetic(model)
    onnx.save(model, str(path))
    return model


# The reatco operators each backward becomes.
FUSED_OPS = {
    "group": {"NormGradRowMeans": 1, "NormGradApply": 1},
    "layer": {"LayerNormGrad": 1},
    "geglu": {"GatedGeluGrad": 1},
    "attention": {"AttentionRowStats": 1, "AttentionGrad": 1},
}
CASES = [("group", True), ("group", False), ("layer", False), ("geglu", False), ("attention", False)]


@pytest.mark.parametrize("fused", [False, True], ids=["onnx-ops", "fused"])
@pytest.mark.parametrize("name,silu", CASES)
def test_rad_graph_form_gives_torchs_output_and_gradient(tmp_path, name, silu, fused, request):
    modules = _modules()
    fn, plain, shape = _case(name, modules, silu)
    g = torch.Generator().manual_seed(1)
    # An offset mean and a spread of row scales, where a one-pass variance would lose digits.
    x = torch.randn(*shape, generator=g) * (1 + 3 * torch.rand(*shape[:-1], 1, generator=g)) + 2
    w = torch.randn(*shape, generator=g)
    model = _export_gradient(fn, [x, w], tmp_path / f"{name}.onnx", symbolic=True, fused=fused)
    ops = collections.Counter(n.op_type for n in model.graph.node)
    options = ort.SessionOptions()
    if fused:
        assert {op: n for (domain, op), n in collections.Counter((n.domain, n.op_type) for n in model.graph.node).items() if domain == DOMAIN} == FUSED_OPS[name]
        options.register_custom_ops_library(str(request.getfixturevalue("library")))
    elif name in ("group", "layer"):  # forward statistics, and the backward's two row means
        assert ops["LayerNormalization"] == 3, ops
    session = ort.InferenceSession(str(tmp_path / f"{name}.onnx"), options, providers=["CPUExecutionProvider"])
    bigger = torch.cat([x, x.flip(0)], dim=0), torch.cat([w, -w], dim=0)  # other sizes than the trace's
    for xs, ws in ((x, w), bigger):
        y, dx = session.run(None, {"x": xs.numpy(), "w": ws.numpy()})
        x_ref = xs.clone().requires_grad_()
        expected = plain(x_ref)
        (expected_dx,) = torch.autograd.grad((expected * ws).sum(), x_ref)
        np.testing.assert_allclose(y, expected.detach().numpy(), rtol=1e-4, atol=1e-5)
        # Absolute error relative to the gradient's scale: the attention's terms cancel in float32.
        np.testing.assert_allclose(dx, expected_dx.numpy(), rtol=1e-4, atol=1e-5 * max(1.0, float(expected_dx.abs().max())))


@pytest.mark.parametrize("fused", [False, True], ids=["onnx-ops", "fused"])
@pytest.mark.parametrize("name", ["group", "layer", "geglu"])
def test_fp16_export_keeps_activation_sized_tensors_in_fp16(tmp_path, name, fused):
    """Autograd's decompositions upcast GroupNorm, LayerNorm and GELU backwards to float32 copies of
    the activation (up to 136 bytes written per element for GroupNorm + SiLU, against 44 here)."""
    modules = _modules(torch.float16)
    fn, _, shape = _case(name, modules)
    x, w = torch.randn(*shape).half(), torch.randn(*shape).half()
    model = onnx.shape_inference.infer_shapes(_export_gradient(fn, [x, w], tmp_path / f"{name}16.onnx", symbolic=False, fused=fused))
    activation = x.numel()
    declared = {v.name: v.type.tensor_type for v in [*model.graph.value_info, *model.graph.output]}
    float32_sized = []
    for node in model.graph.node:
        for out in node.output:
            t = declared.get(out)
            if t is not None and t.elem_type == onnx.TensorProto.FLOAT and np.prod([d.dim_value for d in t.shape.dim]) >= activation:
                float32_sized.append(node.op_type)
    assert not float32_sized, float32_sized


@pytest.mark.parametrize("name,silu", CASES)
def test_fused_backwards_float32_references_give_autograds_gradient(name, silu):
    """The eager implementations of the reatco operators (fused_backwards), which the CUDA and CPU
    kernels follow, run through the RAD graph's autograd functions in PyTorch."""
    fn, plain, shape = _case(name, _modules(torch.float64), silu)
    g = torch.Generator().manual_seed(2)
    x = (torch.randn(*shape, generator=g) * 2 + 1).double()
    w = torch.randn(*shape, generator=g).double()
    with explicit_attention(), fused_backwards():
        xs = x.clone().requires_grad_()
        (got,) = torch.autograd.grad((fn(xs) * w).sum(), xs)
    xs = x.clone().requires_grad_()
    (want,) = torch.autograd.grad((plain(xs) * w).sum(), xs)
    # The references compute in float32.
    torch.testing.assert_close(got, want, rtol=2e-5, atol=2e-6 * float(want.abs().max()))
