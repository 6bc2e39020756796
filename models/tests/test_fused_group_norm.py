"""The optional `unet_cuda` graph: every UNet GroupNorm (+ SiLU) as ONNX Runtime's com.microsoft.GroupNorm.

ONNX Runtime's CPU provider has no kernel for that op, so the numerics are checked by expanding each
com.microsoft.GroupNorm node into plain ONNX operators written from the CUDA kernel's contract (NHWC
input, statistics per image and group over H x W x C / groups, float32 gamma and beta, SiLU when
activation=1) and running the graph on the CPU against the PyTorch UNet.
"""

from __future__ import annotations

import collections

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from reatco_models.config import tiny_config
from reatco_models.export import example_inputs, export_component, model_json, prepare, write_with_shared_weights
from reatco_models.unet3d import ResnetBlock, Transformer3D, UNet3D

EXAMPLE_SIZE = (3, 128, 160)


def _tiny_unet(precision: str) -> tuple:
    cfg = tiny_config(100)
    torch.manual_seed(0)
    unet = UNet3D(cfg.unet)
    g = torch.Generator().manual_seed(1)
    for module in unet.modules():  # distinct affine parameters per norm, so a swapped or dropped one shows
        if isinstance(module, nn.GroupNorm):
            module.weight.data = 1 + 0.5 * torch.randn(module.weight.shape, generator=g)
            module.bias.data = 0.5 * torch.randn(module.bias.shape, generator=g)
    prepare((unet,), precision)
    return cfg, unet


def _norms(unet: UNet3D) -> dict[str, tuple[nn.GroupNorm, int]]:
    """Every GroupNorm's parameter prefix, with the activation expected: SiLU (1) after the ResNet
    norms and conv_norm_out, none (0) after the transformers' input norm."""
    expected = {}
    for name, module in unet.named_modules():
        if isinstance(module, ResnetBlock):
            expected[f"{name}.norm1"] = (module.norm1, 1)
            expected[f"{name}.norm2"] = (module.norm2, 1)
        elif isinstance(module, Transformer3D):
            expected[f"{name}.norm"] = (module.norm, 0)
    expected["conv_norm_out"] = (unet.conv_norm_out, 1)
    assert len(expected) == sum(isinstance(m, nn.GroupNorm) for m in unet.modules())
    return expected


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Tiny-preset UNet graphs: unet_cuda in fp32 and fp16, and the plain unet and unet_rad."""
    graphs = {}
    for precision, names in (("fp32", ("unet_cuda", "unet", "unet_rad")), ("fp16", ("unet_cuda",))):
        cfg, unet = _tiny_unet(precision)
        for name in names:
            out = tmp_path_factory.mktemp(f"{name}_{precision}")
            graphs[name, precision] = export_component(name, cfg, unet, None, None, out, EXAMPLE_SIZE, dynamic_size=False)
    return graphs


def _float_constant(model: onnx.ModelProto, name: str) -> np.ndarray:
    """A graph constant's value, checked to be float32: an initializer, or a Cast to float32 of one."""
    initializers = {t.name: t for t in model.graph.initializer}
    if name in initializers:
        assert initializers[name].data_type == TensorProto.FLOAT, name
        return onnx.numpy_helper.to_array(initializers[name])
    (cast,) = [n for n in model.graph.node if name in n.output]
    assert cast.op_type == "Cast" and helper.get_attribute_value(cast.attribute[0]) == TensorProto.FLOAT, name
    return onnx.numpy_helper.to_array(initializers[cast.input[0]]).astype(np.float32)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_unet_cuda_has_one_fused_group_norm_per_module_norm(exported, precision):
    path = exported["unet_cuda", precision]
    onnx.checker.check_model(str(path))
    model = onnx.load(str(path))
    _, unet = _tiny_unet(precision)
    expected = _norms(unet)
    fused = [n for n in model.graph.node if n.op_type == "GroupNorm"]
    assert all(n.domain == "com.microsoft" for n in fused)
    assert len(fused) == len(expected)
    # No decomposed norm is left: the only Sigmoids are the time embedding's two SiLUs.
    ops = collections.Counter(n.op_type for n in model.graph.node)
    assert ops["InstanceNormalization"] == ops["GroupNormalization"] == ops["ReduceMean"] == ops["Sqrt"] == 0
    assert ops["Sigmoid"] == 2

    # Each node is matched to its module by its gamma (the exporter renames folded constants).
    by_gamma = {norm.weight.float().numpy().tobytes(): prefix for prefix, (norm, _) in expected.items()}
    seen = set()
    for node in fused:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        gamma, beta = (_float_constant(model, name) for name in node.input[1:])
        prefix = by_gamma[gamma.tobytes()]
        norm, activation = expected[prefix]
        np.testing.assert_array_equal(beta, norm.bias.float().numpy())
        assert attrs["activation"] == activation, prefix
        assert attrs["groups"] == norm.num_groups and attrs["channels_last"] == 1
        assert attrs["epsilon"] == pytest.approx(norm.eps)
        seen.add(prefix)
    assert seen == set(expected)


@pytest.mark.parametrize("name", ["unet", "unet_rad"])
def test_plain_and_rad_graphs_keep_the_decomposed_norm(exported, name):
    model = onnx.load(str(exported[name, "fp32"]), load_external_data=False)
    ops = collections.Counter(n.op_type for n in model.graph.node)
    assert not any(n.domain == "com.microsoft" and n.op_type == "GroupNorm" for n in model.graph.node)
    assert ops["ReduceMean"] > 0  # the norms' statistics


def test_unet_cuda_shares_the_unet_weights_file(exported, tmp_path):
    graphs = {"unet": exported["unet", "fp32"], "unet_cuda": exported["unet_cuda", "fp32"]}
    write_with_shared_weights(graphs, tmp_path, "unet.weights")
    alone = tmp_path / "alone"
    alone.mkdir()
    write_with_shared_weights({"unet": graphs["unet"]}, alone, "unet.weights")
    assert (tmp_path / "unet.weights").stat().st_size == (alone / "unet.weights").stat().st_size
    cfg, _ = _tiny_unet("fp32")
    components = model_json(cfg, "tiny", "fp32", tmp_path, components=list(graphs))["components"]
    assert components["unet_cuda"] == {**components["unet"], "file": "unet_cuda.onnx"}
    assert components["unet"]["weights"] == "unet.weights"


def _reference_group_norm(node: onnx.NodeProto, index: int) -> list[onnx.NodeProto]:
    """com.microsoft.GroupNorm from its contract, in plain ONNX: X (N, H, W, C) viewed as
    (N, H*W, groups, C/groups), float32 statistics over axes 1 and 3, then gamma, beta, SiLU."""
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    assert attrs["channels_last"] == 1
    x, gamma, beta = node.input
    p = f"gn_ref_{index}_"
    nodes = [
        helper.make_node("Constant", [], [p + "groups"], value_ints=[attrs["groups"]]),
        helper.make_node("Constant", [], [p + "lead"], value_ints=[0, -1]),
        helper.make_node("Constant", [], [p + "axes"], value_ints=[1, 3]),
        helper.make_node("Constant", [], [p + "eps"], value_float=attrs["epsilon"]),
        helper.make_node("Shape", [x], [p + "shape"]),
        helper.make_node("Shape", [x], [p + "c"], start=3),
        helper.make_node("Div", [p + "c", p + "groups"], [p + "per_group"]),
        helper.make_node("Concat", [p + "lead", p + "groups", p + "per_group"], [p + "grouped_shape"], axis=0),
        helper.make_node("Cast", [x], [p + "xf"], to=TensorProto.FLOAT),
        helper.make_node("Reshape", [p + "xf", p + "grouped_shape"], [p + "xg"]),
        helper.make_node("ReduceMean", [p + "xg", p + "axes"], [p + "mean"]),
        helper.make_node("Sub", [p + "xg", p + "mean"], [p + "centred"]),
        helper.make_node("Mul", [p + "centred", p + "centred"], [p + "square"]),
        helper.make_node("ReduceMean", [p + "square", p + "axes"], [p + "var"]),
        helper.make_node("Add", [p + "var", p + "eps"], [p + "var_eps"]),
        helper.make_node("Sqrt", [p + "var_eps"], [p + "std"]),
        helper.make_node("Div", [p + "centred", p + "std"], [p + "normed_g"]),
        helper.make_node("Reshape", [p + "normed_g", p + "shape"], [p + "normed"]),
        helper.make_node("Mul", [p + "normed", gamma], [p + "scaled"]),
        helper.make_node("Add", [p + "scaled", beta], [p + "affine"]),
    ]
    y = p + "affine"
    if attrs["activation"] == 1:
        nodes += [helper.make_node("Sigmoid", [y], [p + "sigmoid"]), helper.make_node("Mul", [y, p + "sigmoid"], [p + "silu"])]
        y = p + "silu"
    return nodes + [helper.make_node("Identity", [y], [node.output[0]])]  # float32 models only


def test_unet_cuda_matches_pytorch_with_group_norm_by_its_contract(exported):
    path = exported["unet_cuda", "fp32"]
    model = onnx.load(str(path))
    nodes, expanded = [], 0
    for node in model.graph.node:
        if node.domain == "com.microsoft" and node.op_type == "GroupNorm":
            nodes += _reference_group_norm(node, expanded)
            expanded += 1
        else:
            nodes.append(node)
    assert expanded > 0
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])

    cfg, unet = _tiny_unet("fp32")
    # Other sizes than the traced example: batch 2 of 2 frames, 96x128 pixels (frames and size are dynamic).
    ex = example_inputs(cfg, 2, 96, 128)
    feeds = {"sample": ex["sample"], "timestep": ex["timestep"], "encoder_hidden_states": ex["encoder_hidden_states"]}
    (got,) = session.run(None, {k: v.numpy() for k, v in feeds.items()})
    with torch.no_grad():
        expected = unet(*feeds.values()).numpy()
    # float32 throughout, so only summation order differs: about 3e-6 on outputs of order 1 (std 0.3).
    # Statistics per frame instead of per clip (the frames not stacked along H) are off by 0.1.
    assert expected.std() > 0.1
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
