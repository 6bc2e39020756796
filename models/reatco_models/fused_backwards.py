"""The norm and activation backwards of the RAD graph as single operators of the "reatco" domain, for
`unet_rad_cuda` (kernels in helper-service/native/ops; the graph needs that library in its session).

Written out in ONNX operators (gradient_norms), each of these backwards is a chain of 10-25 nodes over
activation-sized tensors. On the SD-1.x RAD pass at 16 frames the chains add up to thousands of nodes,
most of the pass's launches and much of its memory traffic. As single operators each reads its inputs
once or twice and writes its output once, and accumulates in float32.

Inside `fused_backwards()`, gradient_norms' backwards call these operators. The eager implementations
below are float32 references: PyTorch runs them only when a test calls them. The export maps each
operator to its ONNX node (ONNX_TRANSLATIONS).
"""

from __future__ import annotations

import math

import torch

from .onnx_schemas import register_schema
from .switches import TraceSwitch

DOMAIN = "reatco"
_FUSED = TraceSwitch("fused_backwards")


def fused_backwards():
    """The backwards of GroupNormAcrossFrames, LayerNormLastAxis and GatedGelu as reatco operators
    (for tracing unet_rad_cuda)."""
    return _FUSED.on()


def backwards_fused() -> bool:
    return _FUSED.active()


def silu_grad(grad: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """grad through a SiLU whose input was y."""
    s = torch.sigmoid(y)
    return grad * (s * (1 + y * (1 - s)))


@torch.library.custom_op("reatco::norm_grad_row_means", mutates_args=())
def norm_grad_row_means(grad: torch.Tensor, x: torch.Tensor, y: torch.Tensor, silu: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """For x, y, grad (n, c, spatial...): the float32 means over each row (n, c) of g and of g x, where
    g = grad silu'(y) when `silu` (y the norm's output before the SiLU), else grad."""
    g = grad.float()
    if silu:
        g = silu_grad(g, y.float())
    rows = g.flatten(2)
    return rows.mean(-1), (rows * x.float().flatten(2)).mean(-1)


@norm_grad_row_means.register_fake
def _(grad, x, y, silu):
    return grad.new_empty(grad.shape[:2], dtype=torch.float32), grad.new_empty(grad.shape[:2], dtype=torch.float32)


@torch.library.custom_op("reatco::norm_grad_apply", mutates_args=())
def norm_grad_apply(grad: torch.Tensor, x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, p: torch.Tensor, q: torch.Tensor, silu: bool) -> torch.Tensor:
    """dx = g a + x p + q for x, y, grad (n, c, spatial...) with float32 per-row coefficients (n, c),
    g as in norm_grad_row_means."""
    g = grad.float()
    if silu:
        g = silu_grad(g, y.float())
    per_row = lambda t: t.reshape(*t.shape, *[1] * (x.dim() - 2))  # noqa: E731
    return (g * per_row(a) + x.float() * per_row(p) + per_row(q)).to(x.dtype)


@norm_grad_apply.register_fake
def _(grad, x, y, a, p, q, silu):
    return torch.empty_like(x)


@torch.library.custom_op("reatco::layer_norm_grad", mutates_args=())
def layer_norm_grad(grad: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, rstd: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The input gradient of a layer norm over the last axis: rstd (d - mean(d) - x̂ mean(d x̂)),
    d = weight grad, x̂ = (x - mean) rstd; mean and rstd float32, shaped (..., 1)."""
    d = grad.float() * weight.float()
    xhat = (x.float() - mean) * rstd
    return (rstd * (d - d.mean(-1, keepdim=True) - xhat * (d * xhat).mean(-1, keepdim=True))).to(x.dtype)


@layer_norm_grad.register_fake
def _(grad, x, mean, rstd, weight):
    return torch.empty_like(x)


@torch.library.custom_op("reatco::gated_gelu_grad", mutates_args=())
def gated_gelu_grad(grad: torch.Tensor, projected: torch.Tensor) -> torch.Tensor:
    """The gradient of hidden * gelu(gate) (exact GELU) with respect to projected = [hidden, gate]
    (split in halves along the last axis)."""
    hidden, gate = projected.float().chunk(2, dim=-1)
    g = grad.float()
    cdf = 0.5 + 0.5 * torch.erf(gate * 0.5**0.5)
    pdf = torch.exp(gate * gate * -0.5) * (2 * math.pi) ** -0.5
    return torch.cat([g * gate * cdf, g * hidden * (cdf + gate * pdf)], dim=-1).to(projected.dtype)


@gated_gelu_grad.register_fake
def _(grad, projected):
    return torch.empty_like(projected)


_ACTIVATIONS = ("T", ["tensor(float)", "tensor(float16)"], "activations and their gradients")
_STATISTICS = ("S", ["tensor(float)"], "per-row statistics and coefficients, float32")
_SILU = [("silu", "INT", "1: the gradient passes through a SiLU after the norm first")]


def register_reatco_schemas() -> None:
    register_schema(DOMAIN, "NormGradRowMeans", [("grad", "T"), ("x", "T"), ("y", "T")], [("mean_g", "S"), ("mean_gx", "S")], [_ACTIVATIONS, _STATISTICS], _SILU)
    register_schema(
        DOMAIN, "NormGradApply", [("grad", "T"), ("x", "T"), ("y", "T"), ("a", "S"), ("p", "S"), ("q", "S")], [("dx", "T")], [_ACTIVATIONS, _STATISTICS], _SILU
    )
    register_schema(
        DOMAIN, "LayerNormGrad", [("grad", "T"), ("x", "T"), ("mean", "S"), ("rstd", "S"), ("weight", "T")], [("dx", "T")], [_ACTIVATIONS, _STATISTICS]
    )
    register_schema(DOMAIN, "GatedGeluGrad", [("grad", "T"), ("projected", "T")], [("dprojected", "T")], [_ACTIVATIONS])


def _opset():
    import onnxscript

    return onnxscript.values.Opset(DOMAIN, 1)


def _norm_grad_row_means_onnx(grad, x, y, silu: bool):
    return _opset().NormGradRowMeans(grad, x, y, silu=int(silu))


def _norm_grad_apply_onnx(grad, x, y, a, p, q, silu: bool):
    return _opset().NormGradApply(grad, x, y, a, p, q, silu=int(silu))


def _layer_norm_grad_onnx(grad, x, mean, rstd, weight):
    return _opset().LayerNormGrad(grad, x, mean, rstd, weight)


def _gated_gelu_grad_onnx(grad, projected):
    return _opset().GatedGeluGrad(grad, projected)


ONNX_TRANSLATIONS = {
    torch.ops.reatco.norm_grad_row_means.default: _norm_grad_row_means_onnx,
    torch.ops.reatco.norm_grad_apply.default: _norm_grad_apply_onnx,
    torch.ops.reatco.layer_norm_grad.default: _layer_norm_grad_onnx,
    torch.ops.reatco.gated_gelu_grad.default: _gated_gelu_grad_onnx,
}
