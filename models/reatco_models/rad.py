"""RAD (Re-Attentional Diffusion): the loss on the RAD-level cross-attention maps and its gradient
with respect to the noisy latent, as the reference computes them (BoxDiff inner/outer-region
constraints per frame, averaged over frames), generalised to per-frame regions.

Everything here is written so that make_fx can trace forward and backward into standard ONNX ops:
top-k becomes a full sort weighted by per-rank weights (k may differ per object and per frame),
and the 3x3x3 Gaussian smoothing is three separable passes with reflect padding by slicing.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# A&E / ReAtCo GaussianSmoothing(kernel_size=3, sigma=0.5): exp(-((x - mean) / (2 sigma))^2), normalised.
# The 3-D kernel is the normalised outer product of this 1-D kernel, so smoothing is separable.
_G = [math.exp(-(((x - 1) / (2 * 0.5)) ** 2)) for x in range(3)]
GAUSSIAN_1D = [g / sum(_G) for g in _G]  # [0.2119, 0.5761, 0.2119]


def _smooth_along(a: torch.Tensor, dim: int) -> torch.Tensor:
    n = a.shape[dim]
    padded = torch.cat([a.narrow(dim, 1, 1), a, a.narrow(dim, n - 2, 1)], dim=dim)  # reflect by 1
    w0, w1, w2 = GAUSSIAN_1D
    return w0 * padded.narrow(dim, 0, n) + w1 * padded.narrow(dim, 1, n) + w2 * padded.narrow(dim, 2, n)


def smooth_3d(a: torch.Tensor) -> torch.Tensor:
    """3x3x3 Gaussian smoothing (sigma 0.5, reflect padding) over (frames, height, width) of (K, F, H, W)."""
    for dim in (1, 2, 3):
        a = _smooth_along(a, dim)
    return a


def rank_weights(masks: torch.Tensor, fraction: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-rank weights that turn a descending sort into "mean of the top k": 1/k on the first k ranks.
    masks (K, F, N) of 0/1; k = floor(fraction * cells), at least 1, inside (fg) and outside (bg)."""
    n = masks.shape[-1]
    inside = masks.sum(-1)
    ranks = torch.arange(n, dtype=torch.float32, device=masks.device)

    def weights(count: torch.Tensor) -> torch.Tensor:
        k = torch.clamp(torch.floor(count.double() * fraction), min=1).float()
        return (ranks < k[..., None]).float() / k[..., None]

    return weights(inside), weights(n - inside)


def rad_statistics(
    attention: torch.Tensor,
    region_masks: torch.Tensor,
    token_indices: torch.Tensor,
    rank_weights_fg: torch.Tensor,
    rank_weights_bg: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-object fg/bg scores.

    attention: (F, ah, aw, T) RAD-level cross-attention probabilities (mean over layers and heads).
    region_masks: (K, F, ah, aw) 0/1. token_indices: (K,) positions in the prompt (0 = start token).
    rank_weights_*: (K, F, ah*aw). Returns fg, bg: (K,).
    """
    tokens = attention.shape[-1]
    # Drop the start token and the last slot, sharpen x100 and re-normalise over the remaining tokens.
    s = torch.softmax(100 * attention[..., 1 : tokens - 1].float(), dim=-1)
    positions = torch.arange(1, tokens - 1, device=attention.device)
    select = (positions[None, :] == token_indices[:, None]).float()  # (K, T-2)
    a = smooth_3d(torch.einsum("fhwt,kt->kfhw", s, select))
    k, f = a.shape[:2]
    inside = region_masks.float()
    fg_sorted = torch.sort((a * inside).reshape(k, f, -1), dim=-1, descending=True).values
    bg_sorted = torch.sort((a * (1 - inside)).reshape(k, f, -1), dim=-1, descending=True).values
    fg = (fg_sorted * rank_weights_fg).sum(-1).mean(-1)
    bg = (bg_sorted * rank_weights_bg).sum(-1).mean(-1)
    return fg, bg


def rad_loss(
    fg: torch.Tensor, bg: torch.Tensor, weights_fg: torch.Tensor, weights_bg: torch.Tensor, weights_max: torch.Tensor
) -> torch.Tensor:
    """L = Σ w_fg (1 - fg)_+ + Σ w_bg bg + max_k w_max (1 - fg)_+.
    Main update: w_fg = w_bg = 1, w_max = 0 (the reference's Σ (1-fg)_+ + Σ bg).
    Iterative refinement: w_fg = w_bg = 0, w_max = 1 (the reference's max_k (1-fg_k)_+)."""
    hinge = F.relu(1 - fg)
    return (weights_fg * hinge).sum() + (weights_bg * bg).sum() + (weights_max * hinge).max()


LOSS_SCALE = 1024.0


def rad_gradient(
    unet,
    latent: torch.Tensor,
    timestep: torch.Tensor,
    context: torch.Tensor,
    region_masks: torch.Tensor,
    token_indices: torch.Tensor,
    rank_weights_fg: torch.Tensor,
    rank_weights_bg: torch.Tensor,
    loss_weights_fg: torch.Tensor,
    loss_weights_bg: torch.Tensor,
    loss_weights_max: torch.Tensor,
    full_forward: bool = False,
    backward: bool = True,
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor, torch.Tensor]:
    """∂L/∂z for the conditional branch (batch 1), with the loss and per-object scores.
    This is the function exported as unet_rad.onnx; the oracle calls it too. `full_forward` and
    `backward=False` reproduce the reference's costs (a whole-UNet forward; a forward whose gradient
    it never takes) for the baseline benchmark only."""
    dtype = next(unet.parameters()).dtype  # fp16 graphs take fp32 latents and cast inside
    z = latent.detach().requires_grad_(True)
    with torch.enable_grad():
        attention = unet.rad_attention(z.to(dtype), timestep, context.to(dtype), full_forward)[0]
        fg, bg = rad_statistics(attention, region_masks, token_indices, rank_weights_fg, rank_weights_bg)
        loss = rad_loss(fg, bg, loss_weights_fg, loss_weights_bg, loss_weights_max)
        # Loss scaling: the backward runs through fp16 activations in fp16 graphs, where gradients
        # of this size underflow; a power of two scales and unscales exactly.
        grad = torch.autograd.grad(loss * LOSS_SCALE, [z])[0] / LOSS_SCALE if backward else None
    return grad, loss.detach(), fg.detach(), bg.detach()


def step_size(index: int, num_steps: int, scale: float = 20.0, scale_range: tuple[float, float] = (1.0, 0.5)) -> float:
    """α_i = scale * sqrt(linspace(1.0, 0.5, num_steps)[i]), the reference's RAD step size."""
    start, end = scale_range
    fraction = start if num_steps == 1 else start + (end - start) * index / (num_steps - 1)
    return scale * math.sqrt(fraction)
