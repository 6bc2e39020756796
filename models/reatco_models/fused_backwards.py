"""The norm, activation and attention backwards of the RAD graph as single operators of the "reatco"
domain, for `unet_rad_cuda` (kernels in helper-service/native/ops; the graph needs that library in its
session).

Written out in ONNX operators (gradient_norms), each of the norm and activation backwards is a chain of
10-25 nodes over activation-sized tensors. On the SD-1.x RAD pass at 16 frames the chains add up to
thousands of nodes, most of the pass's launches and much of its memory traffic. As single operators
each reads its inputs once or twice and writes its output once, and accumulates in float32. The
attention backward written out (attention.HeadwiseAttention) writes and reads (queries x keys) maps per
head; as two operators (row statistics, then the gradients) the maps stay on the chip, as in flash
attention's backward.

Inside `fused_backwards()`, gradient_norms' and HeadwiseAttention's backwards call these operators. The eager implementations
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
    """The backwards of GroupNormAcrossFrames, LayerNormLastAxis, GatedGelu and HeadwiseAttention as
    reatco operators (for tracing unet_rad_cuda)."""
    return _FUSED.on()


def backwards_fused() -> bool:
    return _FUSED.active()


def split_heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(b, tokens, heads * d) -> (b, heads, tokens, d)."""
    b, n, c = t.shape
    return t.reshape(b, n, heads, c // heads).transpose(1, 2)


def merge_heads(t: torch.Tensor) -> torch.Tensor:
    """(b, heads, tokens, d) -> (b, tokens, heads * d)."""
    return t.transpose(1, 2).flatten(2)


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


@torch.library.custom_op("reatco::attention_row_stats", mutates_args=())
def attention_row_stats(q: torch.Tensor, k: torch.Tensor, out: torch.Tensor, grad_out: torch.Tensor, heads: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For attention over `heads` heads (q, out, grad_out (b, lq, heads * d), k (b, lk, heads * d)): each
    query's log-sum-exp of its scores q·k/√d, and Σ grad_out∘out over the head's columns, both
    float32 (b, heads, lq)."""
    d = q.shape[-1] // heads
    scores = split_heads(q.float(), heads) @ split_heads(k.float(), heads).transpose(-1, -2) * d**-0.5
    rowdot = (split_heads(grad_out.float(), heads) * split_heads(out.float(), heads)).sum(-1)
    return torch.logsumexp(scores, dim=-1), rowdot


@attention_row_stats.register_fake
def _(q, k, out, grad_out, heads):
    stats = q.new_empty((q.shape[0], heads, q.shape[1]), dtype=torch.float32)
    return stats, torch.empty_like(stats)


@torch.library.custom_op("reatco::attention_grad", mutates_args=())
def attention_grad(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, grad_out: torch.Tensor, lse: torch.Tensor, rowdot: torch.Tensor, grad_scale: torch.Tensor, heads: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gradients of attention softmax(q kᵀ/√d) v with respect to q, k and v, times grad_scale (one
    float32), for the incoming gradient grad_out, from attention_row_stats' lse and rowdot:
    P = exp(q kᵀ/√d - lse), dS = P ∘ (grad_out vᵀ - rowdot), dq = dS k/√d, dk = dSᵀ q/√d, dv = Pᵀ grad_out."""
    d = q.shape[-1] // heads
    qh, kh, vh, gh = (split_heads(t.float(), heads) for t in (q, k, v, grad_out))
    p = torch.exp(qh @ kh.transpose(-1, -2) * d**-0.5 - lse[..., None])
    ds = p * (gh @ vh.transpose(-1, -2) - rowdot[..., None])
    scale = grad_scale.float().reshape(())
    grads = (ds @ kh * d**-0.5, ds.transpose(-1, -2) @ qh * d**-0.5, p.transpose(-1, -2) @ gh)
    return tuple(merge_heads(g * scale).to(q.dtype) for g in grads)


@attention_grad.register_fake
def _(q, k, v, grad_out, lse, rowdot, grad_scale, heads):
    return torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)


_ACTIVATIONS = ("T", ["tensor(float)", "tensor(float16)"], "activations and their gradients")
_STATISTICS = ("S", ["tensor(float)"], "per-row statistics and coefficients, float32")
_SILU = [("silu", "INT", "1: the gradient passes through a SiLU after the norm first")]
_HEADS = [("heads", "INT", "attention heads; the last axis holds heads x d")]


def register_reatco_schemas() -> None:
    register_schema(DOMAIN, "NormGradRowMeans", [("grad", "T"), ("x", "T"), ("y", "T")], [("mean_g", "S"), ("mean_gx", "S")], [_ACTIVATIONS, _STATISTICS], _SILU)
    register_schema(
        DOMAIN, "NormGradApply", [("grad", "T"), ("x", "T"), ("y", "T"), ("a", "S"), ("p", "S"), ("q", "S")], [("dx", "T")], [_ACTIVATIONS, _STATISTICS], _SILU
    )
    register_schema(
        DOMAIN, "LayerNormGrad", [("grad", "T"), ("x", "T"), ("mean", "S"), ("rstd", "S"), ("weight", "T")], [("dx", "T")], [_ACTIVATIONS, _STATISTICS]
    )
    register_schema(DOMAIN, "GatedGeluGrad", [("grad", "T"), ("projected", "T")], [("dprojected", "T")], [_ACTIVATIONS])
    register_schema(
        DOMAIN, "AttentionRowStats", [("q", "T"), ("k", "T"), ("out", "T"), ("grad_out", "T")], [("lse", "S"), ("rowdot", "S")], [_ACTIVATIONS, _STATISTICS], _HEADS
    )
    register_schema(
        DOMAIN,
        "AttentionGrad",
        [("q", "T"), ("k", "T"), ("v", "T"), ("grad_out", "T"), ("lse", "S"), ("rowdot", "S"), ("grad_scale", "S")],
        [("dq", "T"), ("dk", "T"), ("dv", "T")],
        [_ACTIVATIONS, _STATISTICS],
        _HEADS,
    )


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


def _attention_row_stats_onnx(q, k, out, grad_out, heads: int):
    return _opset().AttentionRowStats(q, k, out, grad_out, heads=heads)


def _attention_grad_onnx(q, k, v, grad_out, lse, rowdot, grad_scale, heads: int):
    return _opset().AttentionGrad(q, k, v, grad_out, lse, rowdot, grad_scale, heads=heads)


ONNX_TRANSLATIONS = {
    torch.ops.reatco.norm_grad_row_means.default: _norm_grad_row_means_onnx,
    torch.ops.reatco.norm_grad_apply.default: _norm_grad_apply_onnx,
    torch.ops.reatco.layer_norm_grad.default: _layer_norm_grad_onnx,
    torch.ops.reatco.gated_gelu_grad.default: _gated_gelu_grad_onnx,
    torch.ops.reatco.attention_row_stats.default: _attention_row_stats_onnx,
    torch.ops.reatco.attention_grad.default: _attention_grad_onnx,
}
