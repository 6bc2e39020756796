"""ONNX export of a model package: text encoder, VAE encoder/decoder, the ε UNet and the RAD gradient
graph (and optionally `unet_cuda`, the ε UNet with ONNX Runtime's fused CUDA GroupNorm, and
`unet_rad_cuda`, the RAD graph traced with reatco's fused backwards), with weights in external files
(the UNet graphs share one) and a self-describing model.json.

The RAD graph is the joint forward+backward graph of `rad.rad_gradient`, traced by make_fx with core
ATen decompositions (the recipe of ../shared/reference/onnx-gradient.md), symbolically so that
frames, frame size and object count stay dynamic, and exported with torch.onnx.export(dynamo=True).
It contains standard ONNX operators, and ONNX Runtime's MultiHeadAttention for the forward of the
self-attention (its backward is written in plain operators: attention.HeadwiseAttention).
"""

from __future__ import annotations

import collections
import functools
import hashlib
import json
import shutil
import tempfile
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import onnx
import torch
from torch import nn
from torch.export import Dim
from torch.fx.experimental import _config as fx_config
from torch.fx.experimental.proxy_tensor import make_fx

from .attention import explicit_attention
from .clip_text import CLIPTextModel
from .config import ModelConfig
from .fused_backwards import ONNX_TRANSLATIONS, fused_backwards, register_reatco_schemas
from .fused_ops import fuse_softmax_times_grad
from .onnx_schemas import register_schema
from .rad import rad_gradient
from .scheduler import DDIMScheduler
from .unet3d import UNet3D, fused_group_norm
from .vae import AutoencoderKL

aten = torch.ops.aten
OPSET = 18
PACKAGE_FORMAT = "reatco-model-package"
PACKAGE_VERSION = 1
INLINE_LIMIT_BYTES = 1024  # smaller tensors stay inside the graph file


def _convolution_backward(grad_out, inp, weight, bias_sizes, stride, padding, dilation, transposed, output_padding, groups, output_mask):
    """Input gradient of a convolution as a transposed convolution (weights are constants, so their
    gradients are not needed). output_padding = stride - 1 then a slice to the input size, so the
    graph needs no shape-dependent attribute and stays valid for any (dynamic) input size."""
    if transposed:
        raise NotImplementedError("gradient through a transposed convolution")
    grad_input = None
    if output_mask[0]:
        grad_input = aten.convolution(grad_out, weight, None, stride, padding, dilation, True, [s - 1 for s in stride], groups)
        if any(s > 1 for s in stride):
            grad_input = grad_input[(..., *[slice(0, inp.shape[2 + i]) for i in range(len(stride))])]
    return grad_input, None, None


def gradient_decompositions() -> dict:
    from torch._decomp import core_aten_decompositions

    table = dict(core_aten_decompositions())
    table[aten.convolution_backward.default] = _convolution_backward
    return table


class TextEncoderGraph(nn.Module):
    def __init__(self, text: CLIPTextModel):
        super().__init__()
        self.text = text

    def forward(self, input_ids):
        return self.text(input_ids).float()


class VAEEncoderGraph(nn.Module):
    def __init__(self, vae: AutoencoderKL):
        super().__init__()
        self.vae = vae

    def forward(self, image):
        dtype = next(self.vae.parameters()).dtype
        return self.vae.encode_mean(image.to(dtype)).float()


class VAEDecoderGraph(nn.Module):
    def __init__(self, vae: AutoencoderKL):
        super().__init__()
        self.vae = vae

    def forward(self, latent):
        dtype = next(self.vae.parameters()).dtype
        return self.vae.decode(latent.to(dtype)).float()


class UNetGraph(nn.Module):
    def __init__(self, unet: UNet3D):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states):
        dtype = next(self.unet.parameters()).dtype
        return self.unet(sample.to(dtype), timestep, encoder_hidden_states.to(dtype)).float()


RAD_INPUTS = [
    "latent",
    "timestep",
    "encoder_hidden_states",
    "region_masks",
    "token_indices",
    "rank_weights_fg",
    "rank_weights_bg",
    "loss_weights_fg",
    "loss_weights_bg",
    "loss_weights_max",
]
RAD_OUTPUTS = ["grad", "loss", "fg", "bg"]


def _register_contrib_schemas() -> None:
    """The subset of ONNX Runtime's com.microsoft ops the export uses."""
    register_schema(
        "com.microsoft",
        "MultiHeadAttention",
        [("query", "T"), ("key", "T"), ("value", "T")],
        [("output", "T")],
        [("T", ["tensor(float)", "tensor(float16)"], "query, key, value and output")],
        [("num_heads", "INT", "number of heads")],
    )
    # CUDA only: X (N, H, W, C), float32 gamma and beta (C), statistics per image and group over
    # H x W x C / groups, optional SiLU (activation=1).
    register_schema(
        "com.microsoft",
        "GroupNorm",
        [("X", "T"), ("gamma", "M"), ("beta", "M")],
        [("Y", "T")],
        [
            ("T", ["tensor(float)", "tensor(float16)"], "input and output"),
            ("M", ["tensor(float)"], "gamma and beta: float32 for the CUDA kernel"),
        ],
        [
            ("groups", "INT", "number of groups"),
            ("activation", "INT", "0: none, 1: SiLU"),
            ("epsilon", "FLOAT", "added to the variance"),
            ("channels_last", "INT", "1: NHWC, the only layout the CUDA kernel runs"),
        ],
    )


def _fused_attention_onnx(q, k, v, heads: int):
    import onnxscript

    return onnxscript.values.Opset("com.microsoft", 1).MultiHeadAttention(q, k, v, num_heads=heads)


def _group_norm_onnx(x, weight, bias, groups: int, eps: float, frames, silu: bool):
    """reatco::group_norm as com.microsoft.GroupNorm: x (b*f, c, h, w) to NHWC, a clip's frames
    stacked along H, (b, f*h, w, c), so that the kernel's per-image statistics cover frames x h x w.
    `frames` is an int, or a 0-d int64 tensor where the frame count is dynamic."""
    import onnxscript
    from onnxscript import opset18 as op

    xt = op.Transpose(x, perm=[0, 2, 3, 1])
    shape = op.Shape(xt)
    if isinstance(frames, int) and frames == 1:
        clips = xt
    else:
        count = op.Constant(value_ints=[frames]) if isinstance(frames, int) else op.Reshape(frames, op.Constant(value_ints=[1]))
        clip_height = op.Mul(op.Shape(xt, start=1, end=2), count)
        clips = op.Reshape(xt, op.Concat(op.Constant(value_ints=[-1]), clip_height, op.Shape(xt, start=2, end=4), axis=0))
    y = onnxscript.values.Opset("com.microsoft", 1).GroupNorm(
        clips,
        op.Cast(weight, to=onnx.TensorProto.FLOAT),
        op.Cast(bias, to=onnx.TensorProto.FLOAT),
        groups=groups,
        epsilon=eps,
        activation=int(silu),
        channels_last=1,
    )
    return op.Transpose(op.Reshape(y, shape), perm=[0, 3, 1, 2])


def _export(fn, args, path: Path, input_names, output_names, dynamic_shapes, rewrite: bool = True) -> None:
    """`rewrite=False` skips onnxscript's pattern rewriter, whose matching grows with the square of
    the graph: on the SD-1.x RAD graph (forward + backward, ~10^5 nodes) it took most of a 27-minute
    export. Constants are still folded and dead nodes removed; ONNX Runtime's own graph optimizer
    does the rest at session creation."""
    _register_contrib_schemas()
    register_reatco_schemas()
    program = torch.onnx.export(
        fn,
        tuple(args),
        dynamo=True,
        input_names=input_names,
        output_names=output_names,
        dynamic_shapes=dynamic_shapes,
        opset_version=OPSET,
        optimize=rewrite,
        verbose=False,
        custom_translation_table={
            torch.ops.reatco.fused_attention.default: _fused_attention_onnx,
            torch.ops.reatco.group_norm.default: _group_norm_onnx,
            **ONNX_TRANSLATIONS,
        },
    )
    if not rewrite:
        import onnxscript.optimizer

        onnxscript.optimizer.fold_constants(program.model)
        onnxscript.optimizer.remove_unused_nodes(program.model)
    program.save(str(path), external_data=True)


def example_inputs(cfg: ModelConfig, frames: int, height: int, width: int, objects: int = 2, device="cpu") -> dict:
    """Example tensors for tracing (any non-degenerate sizes: every size stays dynamic)."""
    g = torch.Generator().manual_seed(0)
    h, w = height // cfg.vae.scale_factor, width // cfg.vae.scale_factor
    ah, aw = height // cfg.attention_cell_px, width // cfg.attention_cell_px
    masks = torch.zeros(objects, frames, ah, aw)
    masks[:, :, : ah // 2, : aw // 2] = 1
    from .rad import rank_weights

    rw_fg, rw_bg = rank_weights(masks.reshape(objects, frames, -1))
    ones = torch.ones(objects)
    return {
        "input_ids": torch.randint(0, cfg.text.vocab_size, (2, cfg.text.max_length), generator=g),
        "image": torch.rand(2, 3, height, width, generator=g) * 2 - 1,
        "latent_image": torch.randn(2, cfg.vae.latent_channels, h, w, generator=g),
        "sample": torch.randn(2, cfg.unet.in_channels, frames, h, w, generator=g),
        "timestep": torch.tensor([501.0]),
        "encoder_hidden_states": torch.randn(2, cfg.text.max_length, cfg.text.hidden_size, generator=g),
        "rad": [
            torch.randn(1, cfg.unet.in_channels, frames, h, w, generator=g),
            torch.tensor([501.0]),
            torch.randn(1, cfg.text.max_length, cfg.text.hidden_size, generator=g),
            masks,
            torch.arange(objects, dtype=torch.int64) + 1,
            rw_fg,
            rw_bg,
            ones,
            ones,
            torch.zeros(objects),
        ],
    }


def export_rad_graph(unet: UNet3D, rad_args: list, path: Path, dynamic_size: bool = True) -> None:
    # Explicit attention, so that the backward is plain ops (a fused kernel's backward has no ONNX
    # equivalent). Without duck shaping, input dims that happen to be equal in the example (a latent
    # side equal to the text width, say) stay separate symbols, so none is pinned by another's size.
    with explicit_attention(), fx_config.patch(use_duck_shape=False):
        traced = make_fx(
            functools.partial(rad_gradient, unet),
            decomposition_table=gradient_decompositions(),
            tracing_mode="symbolic",
            _allow_non_fake_inputs=True,
        )(*rad_args)
    traced.graph.eliminate_dead_code()
    traced.recompile()
    auto = Dim.AUTO
    size = {3: auto, 4: auto} if dynamic_size else {}
    cells = {2: auto} if dynamic_size else {}
    dynamic = (
        {2: auto, **size},  # latent (1, 4, F, h, w)
        None,
        None,
        {0: auto, 1: auto, **{d - 1: auto for d in size}},  # region_masks (K, F, ah, aw)
        {0: auto},
        {0: auto, 1: auto, **cells},
        {0: auto, 1: auto, **cells},
        {0: auto},
        {0: auto},
        {0: auto},
    )
    _export(traced, rad_args, path, RAD_INPUTS, RAD_OUTPUTS, dynamic, rewrite=False)


COMPONENTS = ("text_encoder", "vae_encoder", "vae_decoder", "unet", "unet_rad")
# Optional: the ε UNet with ONNX Runtime's fused GroupNorm, which only its CUDA provider runs, and the
# RAD graph with reatco's fused operators (fused_backwards, fused_ops; it needs helper-service/native's
# library).
CUDA_COMPONENTS = ("unet_cuda", "unet_rad_cuda")
WEIGHTS = {
    "text_encoder": "text_encoder.weights",
    "vae_encoder": "vae_encoder.weights",
    "vae_decoder": "vae_decoder.weights",
    "unet": "unet.weights",
    "unet_rad": "unet.weights",
    "unet_cuda": "unet.weights",
    "unet_rad_cuda": "unet.weights",
}


def export_component(
    name: str,
    cfg: ModelConfig,
    unet: UNet3D,
    vae: AutoencoderKL,
    text: CLIPTextModel,
    work_dir: Path,
    example_size: tuple[int, int, int],
    dynamic_size: bool = True,
) -> Path:
    """Exports one graph into `work_dir` (with its own external data file) and returns its path.
    `dynamic_size=False` fixes the RAD graph's frame size to the example's: torch 2.11's
    torch.export loses track of the latent sides there (torch 2.14 keeps them dynamic)."""
    frames, height, width = example_size
    ex = example_inputs(cfg, frames, height, width)
    auto = Dim.AUTO
    path = work_dir / f"{name}.onnx"
    with torch.no_grad():
        if name == "text_encoder":
            _export(TextEncoderGraph(text), [ex["input_ids"]], path, ["input_ids"], ["last_hidden_state"], ({0: auto},))
        elif name == "vae_encoder":
            _export(VAEEncoderGraph(vae), [ex["image"]], path, ["image"], ["latent"], ({0: auto, 2: auto, 3: auto},))
        elif name == "vae_decoder":
            _export(VAEDecoderGraph(vae), [ex["latent_image"]], path, ["latent"], ["image"], ({0: auto, 2: auto, 3: auto},))
        elif name in ("unet", "unet_cuda"):
            with fused_group_norm() if name == "unet_cuda" else nullcontext():
                _export(
                    UNetGraph(unet),
                    [ex["sample"], ex["timestep"], ex["encoder_hidden_states"]],
                    path,
                    ["sample", "timestep", "encoder_hidden_states"],
                    ["noise_pred"],
                    ({0: auto, 2: auto, 3: auto, 4: auto}, None, {0: auto}),
                )
        elif name == "unet_rad":
            export_rad_graph(unet, ex["rad"], path, dynamic_size)
        elif name == "unet_rad_cuda":
            with fused_backwards():
                export_rad_graph(unet, ex["rad"], path, dynamic_size)
            # The softmaxes of the written-out attention backwards left (head sizes over
            # FUSED_MAX_HEAD_SIZE; none in a small model).
            model = onnx.load(str(path), load_external_data=False)
            fuse_softmax_times_grad(model)
            onnx.save(model, str(path))
        else:
            raise ValueError(f"unknown component {name}")
    return path


_BINARY_ARITHMETIC = {"Add", "Sub", "Mul", "Div", "Pow"}


def cast_mixed_arithmetic(model: onnx.ModelProto) -> int:
    """Inserts Casts where an arithmetic node mixes float types. Under fp16, a division by a symbolic
    count traces with the count as a float32 0-d tensor: a "wrapped number" that PyTorch does not let
    promote, so the traced result is float16; ONNX refuses mixed operand types. Each mismatched
    operand is cast to the node's traced output type. Returns the number of casts."""
    graph = model.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*graph.input, *graph.output, *graph.value_info]}
    types.update({t.name: t.data_type for t in graph.initializer})
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            types[node.output[0]] = node.attribute[0].t.data_type
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}
    nodes = []
    casts = 0
    for node in graph.node:
        target = types.get(node.output[0]) if node.op_type in _BINARY_ARITHMETIC else None
        if target in floats:
            for index, source in enumerate(node.input):
                if types.get(source) in floats and types[source] != target:
                    cast_name = f"{source}_cast_{casts}"
                    nodes.append(onnx.helper.make_node("Cast", [source], [cast_name], to=target, name=f"mixed_precision_cast_{casts}"))
                    node.input[index] = cast_name
                    casts += 1
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    return casts


def cast_layer_norm_statistics(model: onnx.ModelProto) -> int:
    """Casts LayerNormalization's mean and inverse-deviation outputs to their traced type. Under fp16,
    PyTorch traces native_layer_norm's statistics as float16, but ONNX computes them in the stash
    type (float32), and ONNX Runtime refuses the graph over the mismatch (onnxscript's rewriter used
    to paper over it; the RAD graph is exported without it). Where the trace only casts a statistic
    back to float32 (gradient_norms.row_moments), its readers take the stash output itself, so
    the float32 statistic is never rounded to float16. Returns the number of casts."""
    graph = model.graph
    declared = {v.name: v.type.tensor_type.elem_type for v in [*graph.value_info, *graph.output]}
    readers = collections.defaultdict(list)
    for node in graph.node:
        for index, name in enumerate(node.input):
            readers[name].append((node, index))
    outputs = {o.name for o in graph.output}
    nodes = []
    casts = 0
    for node in graph.node:
        nodes.append(node)
        if node.op_type != "LayerNormalization":
            continue
        stash = next((a.i for a in node.attribute if a.name == "stash_type"), onnx.TensorProto.FLOAT)
        for index in (1, 2):
            name = node.output[index] if index < len(node.output) else ""
            if not name or declared.get(name, stash) == stash:
                continue
            node.output[index] = f"{name}_stash"
            up_casts = [(r, i) for r, i in readers[name] if r.op_type == "Cast" and next(a.i for a in r.attribute if a.name == "to") == stash]
            if name not in outputs and up_casts and len(up_casts) == len(readers[name]):
                for reader, i in up_casts:
                    reader.input[i] = node.output[index]
                continue
            nodes.append(onnx.helper.make_node("Cast", [node.output[index]], [name], to=declared[name], name=f"layer_norm_stat_cast_{casts}"))
            casts += 1
    del graph.node[:]
    graph.node.extend(nodes)
    return casts


def _tensor_bytes(tensor: onnx.TensorProto, base: Path) -> bytes:
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        info = {e.key: e.value for e in tensor.external_data}
        with open(base / info["location"], "rb") as f:
            f.seek(int(info.get("offset", 0)))
            return f.read(int(info["length"])) if "length" in info else f.read()
    return onnx.numpy_helper.to_array(tensor).tobytes()


def write_with_shared_weights(graphs: dict[str, Path], out_dir: Path, weights_name: str) -> None:
    """Rewrites the graphs into `out_dir` so that their large initializers live in one external file,
    each distinct tensor stored once (the ε and RAD graphs share the UNet weights)."""
    offsets: dict[str, int] = {}
    with open(out_dir / weights_name, "wb") as blob:
        for name, src in graphs.items():
            model = onnx.load(str(src), load_external_data=False)
            cast_layer_norm_statistics(model)
            cast_mixed_arithmetic(model)
            for node in model.graph.node:  # the exporter's stack traces: megabytes nobody reads at run time
                del node.metadata_props[:]
            for tensor in model.graph.initializer:
                data = _tensor_bytes(tensor, src.parent)
                if len(data) < INLINE_LIMIT_BYTES:
                    if tensor.data_location == onnx.TensorProto.EXTERNAL:
                        del tensor.external_data[:]
                        tensor.data_location = onnx.TensorProto.DEFAULT
                        tensor.raw_data = data
                    continue
                digest = hashlib.sha256(data).hexdigest()
                if digest not in offsets:
                    blob.seek(0, 2)
                    pad = (-blob.tell()) % 64
                    blob.write(b"\0" * pad)
                    offsets[digest] = blob.tell()
                    blob.write(data)
                tensor.ClearField("raw_data")
                for field in ("float_data", "int32_data", "int64_data", "double_data", "uint64_data"):
                    tensor.ClearField(field)
                del tensor.external_data[:]
                tensor.data_location = onnx.TensorProto.EXTERNAL
                for key, value in (("location", weights_name), ("offset", str(offsets[digest])), ("length", str(len(data)))):
                    entry = tensor.external_data.add()
                    entry.key, entry.value = key, value
            onnx.save(model, str(out_dir / f"{name}.onnx"))


def _io_spec(path: Path) -> dict:
    model = onnx.load(str(path), load_external_data=False)

    def describe(values):
        return {
            v.name: {
                "dtype": onnx.helper.tensor_dtype_to_np_dtype(v.type.tensor_type.elem_type).name,
                "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
            }
            for v in values
        }

    return {"inputs": describe(model.graph.input), "outputs": describe(model.graph.output)}


def model_json(cfg: ModelConfig, name: str, precision: str, out_dir: Path, extra: dict | None = None, components=COMPONENTS) -> dict:
    scheduler = DDIMScheduler(cfg.scheduler)
    described = {c: {"file": f"{c}.onnx", "weights": WEIGHTS[c], **_io_spec(out_dir / f"{c}.onnx")} for c in components}
    u = cfg.unet
    rad_layers = [f"down_blocks.{u.rad_level}.attentions.{i}.transformer_blocks.0.attn2" for i in range(u.layers_per_block)] + [
        f"up_blocks.{u.rad_up_block}.attentions.{i}.transformer_blocks.0.attn2" for i in range(u.layers_per_block + 1)
    ]
    return {
        "format": PACKAGE_FORMAT,
        "version": PACKAGE_VERSION,
        "name": name,
        "precision": precision,
        "frame": {"multiple": cfg.frame_multiple},
        "latent": {
            "channels": cfg.vae.latent_channels,
            "cell_px": cfg.vae.scale_factor,
            "scaling_factor": cfg.vae.scaling_factor,
        },
        "attention": {"cell_px": cfg.attention_cell_px, "heads": u.attention_heads, "rad_layers": rad_layers},
        "text": {"max_length": cfg.text.max_length, "hidden_size": cfg.text.hidden_size},
        "tokenizer": {"vocab": "tokenizer/vocab.json", "merges": "tokenizer/merges.txt"},
        "scheduler": {**asdict(cfg.scheduler), "alphas_cumprod": [float(a) for a in scheduler.alphas_cumprod.tolist()]},
        "architecture": cfg.to_dict(),
        "components": described,
        **(extra or {}),
    }


def prepare(modules: tuple[nn.Module, ...], precision: str) -> None:
    dtype = {"fp32": torch.float32, "fp16": torch.float16}[precision]
    for module in modules:
        module.eval().requires_grad_(False).to(dtype)


def assemble_package(
    cfg: ModelConfig,
    graphs: dict[str, Path],
    tokenizer_dir: Path,
    out_dir: Path,
    name: str,
    precision: str,
    extra: dict | None = None,
) -> dict:
    """Writes exported graphs (COMPONENTS, and any of CUDA_COMPONENTS), tokenizer files and model.json
    into `out_dir`; returns the manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for weights in dict.fromkeys(WEIGHTS[c] for c in graphs):
        write_with_shared_weights({c: path for c, path in graphs.items() if WEIGHTS[c] == weights}, out_dir, weights)
    (out_dir / "tokenizer").mkdir(exist_ok=True)
    for file in ("vocab.json", "merges.txt"):
        shutil.copyfile(tokenizer_dir / file, out_dir / "tokenizer" / file)
    manifest = model_json(cfg, name, precision, out_dir, extra, list(graphs))
    (out_dir / "model.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def write_package(
    cfg: ModelConfig,
    unet: UNet3D,
    vae: AutoencoderKL,
    text: CLIPTextModel,
    tokenizer_dir: Path,
    out_dir: Path,
    name: str,
    precision: str = "fp32",
    example_size: tuple[int, int, int] = (3, 128, 160),
    extra: dict | None = None,
) -> dict:
    """Exports a complete package from modules in memory, one graph after the other."""
    prepare((unet, vae, text), precision)
    with tempfile.TemporaryDirectory() as tmp:
        graphs = {c: export_component(c, cfg, unet, vae, text, Path(tmp), example_size) for c in COMPONENTS}
        return assemble_package(cfg, graphs, tokenizer_dir, out_dir, name, precision, extra)
