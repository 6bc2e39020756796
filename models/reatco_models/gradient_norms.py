"""GroupNorm (+ SiLU) for the RAD gradient graph, with its backward written out for ONNX Runtime.

Traced through autograd, GroupNorm's forward and backward decompose into chains of elementwise nodes,
most of them on float32 copies of the activation: on the SD-1.x RAD pass at 16 frames on the H200,
float32 Mul, Cast, Sub, Add and Pow nodes alone took 57 of 451 ms. Here every full-size tensor stays
in the working precision and the float32 work is on per-row statistics only:
- each row (frame, channel) of height x width gets its mean and variance from LayerNormalization,
  one kernel that accumulates in float32 and returns them in its float32 stash outputs;
- rows combine into group statistics in float32 (exactly: the group variance is the mean of the rows'
  variances plus the variance of their means);
- the norm is then one per-row scale and shift, y = x a + b, and its gradient one per-row linear
  combination, dx = dy a + x p + q, whose coefficients come from two more row means (of dy, dy x).
Inside fused_backwards.fused_backwards() (unet_rad_cuda) the full-size work of each backward is one
or two reatco operators instead.
"""

from __future__ import annotations

import math

import torch

from .fused_backwards import backwards_fused, gated_gelu_grad, layer_norm_grad, norm_grad_apply, norm_grad_row_means, silu_grad


def row_moments(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of each row of a 2-D tensor, float32 (rows, 1), from one layer norm.
    Without an epsilon its inverse deviation is infinite for a constant row, whose variance is then
    exactly 0; the normalised output, unused, is left to the dead-code passes or ignored."""
    _, mean, inverse_deviation = torch.native_layer_norm(rows, [rows.shape[-1]], None, None, 0.0)
    return mean.float(), inverse_deviation.float().pow(-2)


def _per_row(coefficient: torch.Tensor, frames: int, like: torch.Tensor) -> torch.Tensor:
    """(b, 1 or frames, groups, channels per group or 1) float32 -> (b * frames, channels) float32."""
    bf, c = like.shape[:2]
    b = bf // frames
    return coefficient.expand(b, frames, coefficient.shape[2], c // coefficient.shape[2]).reshape(bf, c)


def _per_row_map(coefficient: torch.Tensor, frames: int, like: torch.Tensor) -> torch.Tensor:
    """_per_row as (b * frames, channels, 1, 1) in the working precision, to multiply `like` by."""
    return _per_row(coefficient, frames, like).reshape(*like.shape[:2], 1, 1).to(like.dtype)


class GroupNormAcrossFrames(torch.autograd.Function):
    """GroupNorm over (channels of the group, frames, height, width) of a frames-major (b * f, c, h, w)
    tensor, then SiLU if `silu`: the maths of unet3d.group_norm_across_frames, for tracing only."""

    @staticmethod
    def forward(ctx, x, weight, bias, groups: int, eps: float, frames: int, silu: bool):
        bf, c, h, w = x.shape
        grouped = (bf // frames, frames, groups, c // groups)
        row_mean, row_var = (m.reshape(grouped) for m in row_moments(x.reshape(bf * c, h * w)))
        mean = row_mean.mean(dim=(1, 3), keepdim=True)
        var = (row_var + (row_mean - mean) ** 2).mean(dim=(1, 3), keepdim=True)
        rstd = torch.rsqrt(var + eps)
        scale = rstd * weight.float().reshape(1, 1, groups, -1)
        shift = bias.float().reshape(1, 1, groups, -1) - mean * scale
        y = x * _per_row_map(scale, frames, x) + _per_row_map(shift, frames, x)
        ctx.save_for_backward(x, y, scale, mean, rstd, weight)
        ctx.frames, ctx.groups, ctx.silu = frames, groups, silu
        return y * torch.sigmoid(y) if silu else y

    @staticmethod
    def backward(ctx, grad):
        x, y, scale, mean, rstd, weight = ctx.saved_tensors
        frames, groups, silu = ctx.frames, ctx.groups, ctx.silu
        bf, c, h, w = x.shape
        grouped = (bf // frames, frames, groups, c // groups)
        gamma = weight.float().reshape(1, 1, groups, -1)
        fused = backwards_fused()
        if fused:  # one operator reads the gradient, x and y for both row means (the SiLU's inside)
            row_means = norm_grad_row_means(grad, x, y, silu)
        else:
            if silu:
                grad = silu_grad(grad, y)
            row_means = tuple(row_moments(t.reshape(bf * c, h * w))[0] for t in (grad, grad * x))
        # The means over each group of γ·dy and γ·dy·x, from the rows' means.
        grad_mean, grad_x_mean = ((gamma * m.reshape(grouped)).mean(dim=(1, 3), keepdim=True) for m in row_means)
        grad_xhat_mean = rstd * (grad_x_mean - mean * grad_mean)
        # dx = rstd (γ dy - mean(γ dy) - x̂ mean(γ dy x̂)), x̂ = (x - mean) rstd, as dy a + x p + q.
        slope = -rstd * rstd * grad_xhat_mean
        offset = -slope * mean - rstd * grad_mean
        if fused:
            dx = norm_grad_apply(grad, x, y, *(_per_row(t, frames, x) for t in (scale, slope, offset)), silu)
        else:
            dx = grad * _per_row_map(scale, frames, x) + (x * _per_row_map(slope, frames, x) + _per_row_map(offset, frames, x))
        return dx, None, None, None, None, None, None


class LayerNormLastAxis(torch.autograd.Function):
    """nn.LayerNorm over the last axis, for tracing only: the forward is ONNX's LayerNormalization,
    the backward dx = rstd (dx̂ - mean(dx̂) - x̂ mean(dx̂ x̂)), dx̂ = γ dy, in the working precision
    with the two row means from layer norms (float32 accumulation)."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps: float):
        y, mean, rstd = torch.native_layer_norm(x, [x.shape[-1]], weight, bias, eps)
        ctx.save_for_backward(x, mean, rstd, weight)
        return y

    @staticmethod
    def backward(ctx, grad):
        x, mean, rstd, weight = ctx.saved_tensors
        if backwards_fused():
            return layer_norm_grad(grad, x, mean.float(), rstd.float(), weight), None, None, None
        rows = x.numel() // x.shape[-1]
        rstd = rstd.float()
        rstd_working = rstd.to(x.dtype)
        xhat = (x - mean.to(x.dtype)) * rstd_working
        grad_xhat = grad * weight
        grad_mean = row_moments(grad_xhat.reshape(rows, -1))[0].reshape(rstd.shape)
        grad_xhat_mean = row_moments((grad_xhat * xhat).reshape(rows, -1))[0].reshape(rstd.shape)
        dx = grad_xhat * rstd_working + (xhat * (-rstd * grad_xhat_mean).to(x.dtype) + (-rstd * grad_mean).to(x.dtype))
        return dx, None, None, None


class GatedGelu(torch.autograd.Function):
    """GEGLU's gate, hidden * gelu(gate) with the exact (erf) GELU, of the projection split in two
    halves along the last axis; for tracing only. Autograd's GELU backward runs on float32 copies of
    the widest tensors of the pass (frames x tokens x 1280 at full resolution); this one stays in the
    working precision: gelu'(g) = Φ(g) + g φ(g)."""

    @staticmethod
    def forward(ctx, projected):
        ctx.save_for_backward(projected)
        hidden, gate = projected.chunk(2, dim=-1)
        return hidden * torch.nn.functional.gelu(gate)

    @staticmethod
    def backward(ctx, grad):
        (projected,) = ctx.saved_tensors
        if backwards_fused():
            return gated_gelu_grad(grad, projected)
        hidden, gate = projected.chunk(2, dim=-1)
        cdf = 0.5 + 0.5 * torch.erf(gate * 0.5**0.5)
        pdf_times_gate = gate * torch.exp(gate * gate * -0.5) * (2 * math.pi) ** -0.5
        return torch.cat([grad * (gate * cdf), grad * hidden * (cdf + pdf_times_gate)], dim=-1)
