"""Attention layers of the Tune-A-Video transformer block.

Tensors inside the UNet are frames-major: (batch * frames, tokens, channels).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .fused_backwards import attention_grad, attention_row_stats, backwards_fused, merge_heads, split_heads
from .gradient_norms import GatedGelu, LayerNormLastAxis
from .switches import TraceSwitch


_EXPLICIT = TraceSwitch("explicit_attention")


def explicit_attention():
    """Attention whose backward decomposes into plain ONNX operators, for tracing the RAD gradient
    graph (a fused kernel's backward has no ONNX equivalent): matmul + softmax, or for the large
    self-attention the fused forward with HeadwiseAttention's written-out backward."""
    return _EXPLICIT.on()


def in_gradient_graph() -> bool:
    """True while the RAD gradient graph is traced (inside `explicit_attention()`)."""
    return _EXPLICIT.active()


@torch.library.custom_op("reatco::fused_attention", mutates_args=())
def fused_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Attention without a probability tensor. PyTorch runs its fused kernel; the ONNX export maps
    this op to com.microsoft.MultiHeadAttention, which ONNX Runtime runs fused (flash or
    memory-efficient attention on CUDA), where explicit softmax would hold a (frames x heads x
    tokens x tokens) tensor: about 30 GB per layer for 16 frames at 448x768."""
    b, lq, c = q.shape
    out = F.scaled_dot_product_attention(split_heads(q, heads), split_heads(k, heads), split_heads(v, heads))
    return out.transpose(1, 2).reshape(b, lq, c)


@fused_attention.register_fake
def _(q, k, v, heads):
    return torch.empty_like(q)


class HeadwiseAttention(torch.autograd.Function):
    """Attention for the RAD gradient graph where nobody reads the probabilities: the forward is the
    fused kernel (ONNX Runtime's MultiHeadAttention in the graph) and keeps q, k, v and the output;
    the backward recomputes the probabilities with one softmax per head for large maps, or one for
    all heads for small ones (a flash-attention style backward written in plain ops, so it exports).
    Explicit attention in the forward would keep a (frames x heads x tokens x 2 tokens) tensor per
    layer for the backward, about 60 GB at 4 frames of 448x768, and cost most of the pass in ONNX
    Runtime's reductions.

    The backward's maps stay in the working precision, as flash attention's backward keeps its
    probabilities and their gradient in fp16 for the products: the maps are the pass's memory
    traffic, and float32 ones doubled it. Two things keep fp16 exact enough:
    - the incoming gradient is scaled by a power of two so that dP = dO vᵀ peaks near 2^11: RAD's
      gradients here are ~1e-5, and P ∘ dP (P ~ 1e-4) would be below fp16's smallest number;
    - the row term D = Σ dO∘O (float32, split into two fp16 parts) is subtracted inside the dP
      product, whose accumulator is float32, so dP - D never cancels in fp16.

    Inside fused_backwards() (unet_rad_cuda), for head sizes up to FUSED_MAX_HEAD_SIZE, the backward
    after the scaling is reatco's AttentionRowStats and AttentionGrad instead: the same maths, with
    the maps computed tile by tile on the chip and dP - D in float32 there."""

    @staticmethod
    def forward(ctx, q, k, v, heads):
        out = fused_attention(q, k, v, heads)
        ctx.save_for_backward(q, k, v, out)
        ctx.heads = heads
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out = ctx.saved_tensors
        heads, dtype = ctx.heads, q.dtype
        lq, lk, channels = q.shape[1], k.shape[1], q.shape[2]
        d = channels // heads
        # |dO·v| <= d max|dO| max|v|; a power of two scales and unscales exactly.
        bound = d * grad_out.abs().max().float() * v.abs().max().float()
        gain = torch.exp2(torch.floor(torch.log2(2.0**11 / bound.clamp_min(2.0**-100))).clamp(max=100))
        grad_scaled = (grad_out.float() * gain).to(dtype)
        if backwards_fused() and d <= FUSED_MAX_HEAD_SIZE:
            lse, rowdot = attention_row_stats(q, k, out, grad_scaled, heads)
            return (*attention_grad(q, k, v, grad_scaled, lse, rowdot, gain.reciprocal().reshape(1), heads), None)

        by_head = lambda t: split_heads(t, heads)  # noqa: E731
        qs, kh, vh, goh = by_head(q * d**-0.5), by_head(k), by_head(v), by_head(grad_scaled)
        row = (goh.float() * by_head(out).float()).sum(-1, keepdim=True)
        row_hi = row.to(dtype)
        row_lo = (row - row_hi.float()).to(dtype)
        # [dO, -D_hi, -D_lo] @ [v, 1, 1]ᵀ = dO vᵀ - D; zero columns pad the product's depth to a
        # multiple of 8 for the tensor cores.
        pad = -(d + 2) % 8
        grad_rows = F.pad(torch.cat([goh, -row_hi, -row_lo], dim=-1), (0, pad))
        value_rows = F.pad(torch.cat([vh, torch.ones_like(vh[..., :2])], dim=-1), (0, pad))
        tensors = (qs, kh, grad_rows, value_rows, goh)
        together = _all_heads_at_once(heads, lq, lk)
        blocks = [tensors] if together else [tuple(t[:, h] for t in tensors) for h in range(heads)]
        parts = []
        for qb, kb, grad_b, value_b, gob in blocks:
            p = torch.softmax(qb @ kb.transpose(-1, -2), dim=-1)
            ds = p * (grad_b @ value_b.transpose(-1, -2))
            # One tensor per block of heads, so that one node needs all of its gradients: ONNX Runtime
            # runs nodes in a depth-first order from the outputs, which for separate dq, dk and dv
            # outputs computes every head's dq first and keeps each head's p and ds alive for dk and
            # dv (all heads at once: 16 GB at 4 frames of 448x768 instead of 3).
            parts.append(torch.cat([ds @ kb, ds.transpose(-1, -2) @ qb, p.transpose(-1, -2) @ gob], dim=-2))
        # (b, lq + 2 lk, heads * d); one head at a time, heads side by side need no transpose.
        grads = merge_heads(parts[0]) if together else torch.cat(parts, dim=-1)
        dq, dk, dv = grads.split([lq, lk, lk], dim=1)
        unscale = lambda t, factor: (t.float() * (factor / gain)).to(dtype)  # noqa: E731
        return unscale(dq, d**-0.5), unscale(dk, 1.0), unscale(dv, 1.0), None


# The largest head size of reatco's fused attention backward (helper-service/native/ops/attention_grad.h:
# its tiles hold a head's columns). SD-1.x has 40 at full resolution and 80 at the second level; its
# 1/32 and 1/64 levels (160) keep the written-out backward, whose maps there are 16 and 256 times
# smaller than at full resolution.
FUSED_MAX_HEAD_SIZE = 80


# Elements of one frame's maps, all heads together, up to which the backward takes every head in one
# product: SD-1.x's second level (8 x 1344 x 2688) but not its full-resolution layers (8 x 5376 x
# 10752, one head at a time). ONNX Runtime pays for each node it runs; the big maps bound the memory.
ALL_HEADS_MAX_ELEMENTS = 2**25


def _all_heads_at_once(heads: int, queries: int, keys: int) -> bool:
    """Decided at trace time: for a graph whose height and width are dynamic, at the example's."""
    return bool(heads * queries * keys <= ALL_HEADS_MAX_ELEMENTS)


def multi_head_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, return_probs: bool = False, large: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """softmax(q kᵀ / √d) v over `heads` heads; q (B, Lq, C), k and v (B, Lk, C).

    With `return_probs` the probabilities (B, heads, Lq, Lk) are computed explicitly, in float32 as the
    reference's upcast softmax does, so RAD can read and differentiate them. Otherwise a fused kernel
    runs (same maths): inside `explicit_attention()` (tracing the RAD graph) the head-by-head one
    above for `large` attention (tokens x 2 tokens: the self-attention) and plain matmul + softmax for
    the small ones; PyTorch's, which has a backward, while autograd records; the exportable fused op
    otherwise.
    """
    b, lq, c = q.shape
    if _EXPLICIT.active() and large and not return_probs:
        return HeadwiseAttention.apply(q, k, v, heads), None
    if not (return_probs or _EXPLICIT.active()):
        if torch.is_grad_enabled() and q.requires_grad:
            out = F.scaled_dot_product_attention(split_heads(q, heads), split_heads(k, heads), split_heads(v, heads))
            return out.transpose(1, 2).reshape(b, lq, c), None
        return fused_attention(q, k, v, heads), None
    qh, kh, vh = split_heads(q, heads), split_heads(k, heads), split_heads(v, heads)
    scores = (qh @ kh.transpose(-1, -2)) * (c // heads) ** -0.5
    # Probabilities RAD reads get the reference's float32 softmax (they are small: the 1/32 grid);
    # the large self-attention maps of the gradient graph stay in the working precision.
    probs = scores.float().softmax(dim=-1) if return_probs else scores.softmax(dim=-1)
    out = probs.to(vh.dtype) @ vh
    return out.transpose(1, 2).reshape(b, lq, c), (probs if return_probs else None)


class Attention(nn.Module):
    """Projections with diffusers' parameter names (to_q, to_k, to_v, to_out.0)."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim or dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim or dim, dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(dim, dim)])


def first_and_previous(t: torch.Tensor, frames: int) -> torch.Tensor:
    """Keys (or values) of sparse-causal attention: frame i sees the clip's first frame and frame i-1
    (frame 0 itself twice); t (b * frames, n, c) -> (b * frames, 2n, c). Frames are picked by 0/1
    selection matrices (exact in any precision), whose derivative is their transpose: a slice's
    derivative exports as ScatterND (1.4 of the RAD pass's 1.9 s on the H100) and a split of a
    dynamic frame count as SplitToSequence (0.18 of 1.3 s at 16 frames on the H200)."""
    bf, n, c = t.shape
    b = bf // frames
    frame = torch.arange(frames, device=t.device)
    first = (frame[None, :] == 0).expand(frames, frames)
    previous = frame[None, :] == torch.clamp(frame - 1, min=0)[:, None]
    flat = t.reshape(b, frames, n * c)
    picked = [(m.to(t.dtype) @ flat).reshape(b, frames, n, c) for m in (first, previous)]
    return torch.cat(picked, dim=2).reshape(bf, 2 * n, c)


class SparseCausalSelfAttention(Attention):
    """Each frame attends to the first frame of the clip (or window) and to its previous frame;
    frame 0 uses itself twice. No gathers with duplicate indices, so the backward exports as sums."""

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        out, _ = multi_head_attention(
            self.to_q(x), first_and_previous(self.to_k(x), frames), first_and_previous(self.to_v(x), frames), self.heads, large=True
        )
        return self.to_out[0](out)


class TextCrossAttention(Attention):
    """Cross-attention to the prompt. The text is the same for every frame of a clip, so the frames
    are folded into the query length: one attention of (frames * tokens) queries over 77 keys."""

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, frames: int, return_probs: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        bf, n, c = x.shape
        b = bf // frames
        q = self.to_q(x).reshape(b, frames * n, c)
        out, probs = multi_head_attention(q, self.to_k(context), self.to_v(context), self.heads, return_probs)
        return self.to_out[0](out.reshape(bf, n, c)), probs


class TemporalSelfAttention(Attention):
    """Tune-A-Video's attention over frames at each spatial position."""

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        bf, n, c = x.shape
        b = bf // frames
        t = x.reshape(b, frames, n, c).transpose(1, 2).reshape(b * n, frames, c)
        out, _ = multi_head_attention(self.to_q(t), self.to_k(t), self.to_v(t), self.heads)
        out = self.to_out[0](out)
        return out.reshape(b, n, frames, c).transpose(1, 2).reshape(bf, n, c)


class GEGLU(nn.Module):
    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if in_gradient_graph():
            return GatedGelu.apply(self.proj(x))
        hidden, gate = self.proj(x).chunk(2, dim=-1)
        return hidden * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        # net.1 is a dropout in diffusers; an Identity keeps the parameter names (net.0, net.2).
        self.net = nn.ModuleList([GEGLU(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.net:
            x = layer(x)
        return x


class TransformerBlock(nn.Module):
    """Tune-A-Video's BasicTransformerBlock: sparse-causal self-attention, text cross-attention,
    GEGLU feed-forward, then (optionally) temporal attention."""

    def __init__(self, dim: int, heads: int, context_dim: int, temporal: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = SparseCausalSelfAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = TextCrossAttention(dim, heads, context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)
        if temporal:
            self.norm_temp = nn.LayerNorm(dim)
            self.attn_temp = TemporalSelfAttention(dim, heads)
        self.temporal = temporal

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, frames: int, store: list | None = None
    ) -> torch.Tensor:
        x = self.attn1(_layer_norm(self.norm1, x), frames) + x
        attended, probs = self.attn2(_layer_norm(self.norm2, x), context, frames, return_probs=store is not None)
        if store is not None:
            store.append(probs)
        x = attended + x
        x = self.ff(_layer_norm(self.norm3, x)) + x
        if self.temporal:
            x = self.attn_temp(_layer_norm(self.norm_temp, x), frames) + x
        return x


def _layer_norm(norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """The module's maths; in the RAD graph with a backward in the working precision."""
    return LayerNormLastAxis.apply(x, norm.weight, norm.bias, norm.eps) if in_gradient_graph() else norm(x)
