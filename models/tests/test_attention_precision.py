"""The RAD graph's attention backward in fp16: as exact as an fp16 result of the exact gradient can be,
at the magnitudes RAD's backward has (incoming gradients ~1e-5, probabilities ~1e-4). Written out, and
as reatco's fused operators (their float32 references, which the CUDA kernels follow; the kernels' own
fp16 check is helper-service/scripts/custom-op-check/attention_grad_check.cu)."""

from __future__ import annotations

import contextlib

import pytest
import torch
import torch.nn.functional as F

from reatco_models import attention
from reatco_models.attention import HeadwiseAttention
from reatco_models.fused_backwards import fused_backwards

HEADS = 2


def _split(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], t.shape[1], HEADS, -1).transpose(1, 2)


def _exact_gradient(q, k, v, grad_out):
    q, k, v = (t.double().requires_grad_() for t in (q, k, v))
    out = F.scaled_dot_product_attention(_split(q), _split(k), _split(v)).transpose(1, 2).reshape(q.shape)
    return torch.autograd.grad((out * grad_out.double()).sum(), (q, k, v))


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().flatten(), b.double().flatten()
    return float(a @ b / (a.norm() * b.norm()))


@pytest.mark.parametrize("path", ["all heads at once", "head by head", "fused"])
def test_fp16_backward_is_as_exact_as_fp16_allows(monkeypatch, path):
    if path == "head by head":
        monkeypatch.setattr(attention, "ALL_HEADS_MAX_ELEMENTS", 0)
    # SD-1.x's full-resolution self-attention, scaled down: head size 40, twice as many keys as
    # queries, activations ~0.5, and the incoming gradient of RAD's loss at that layer (~1e-5).
    g = torch.Generator().manual_seed(0)
    q, k, v = (0.5 * torch.randn(1, n, HEADS * 40, generator=g) for n in (512, 1024, 1024))
    grad_out = 2e-5 * torch.randn(1, 512, HEADS * 40, generator=g)
    q, k, v, grad_out = (t.half() for t in (q, k, v, grad_out))
    exact = _exact_gradient(q, k, v, grad_out)

    q16, k16, v16 = (t.clone().requires_grad_() for t in (q, k, v))
    with fused_backwards() if path == "fused" else contextlib.nullcontext():
        got = torch.autograd.grad((HeadwiseAttention.apply(q16, k16, v16, HEADS).float() * grad_out.float()).sum(), (q16, k16, v16))
    for name, actual, reference in zip("qkv", got, exact):
        assert actual.dtype == torch.float16 and torch.isfinite(actual).all(), name
        best = _cosine(reference.half(), reference)  # the exact gradient, rounded to fp16
        assert _cosine(actual, reference) >= best - 1e-4, (name, _cosine(actual, reference), best)
