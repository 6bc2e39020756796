"""The SD-1.x UNet inflated for video with Tune-A-Video's semantics (UNet3DConditionModel).

Frames are folded into the batch internally, (batch * frames, channels, height, width), so every
convolution is a plain per-frame 2-D convolution. ResNet GroupNorm statistics, as in the reference,
run over all frames passed together: results depend on how many frames are passed at once.
Parameter names follow diffusers / Tune-A-Video so checkpoints load by name.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .attention import TransformerBlock, in_gradient_graph
from .config import UNetConfig
from .gradient_norms import GroupNormAcrossFrames
from .switches import TraceSwitch


_FUSED_NORM = TraceSwitch("fused_group_norm")


def fused_group_norm():
    """Every UNet GroupNorm (with the SiLU that follows it) as one op, which the export maps to ONNX
    Runtime's com.microsoft.GroupNorm: for the CUDA ε graph only (the CPU provider has no such
    kernel, and the RAD graph's backward must decompose into plain ONNX operators)."""
    return _FUSED_NORM.on()


def _group_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, groups: int, eps: float, frames: int) -> torch.Tensor:
    bf, c, h, w = x.shape
    # Statistics in float32, as GroupNorm keeps them.
    xg = x.reshape(bf // frames, frames, groups, -1).float()
    mean = xg.mean(dim=(1, 3), keepdim=True)
    centred = xg - mean
    var = centred.pow(2).mean(dim=(1, 3), keepdim=True)
    y = (centred * torch.rsqrt(var + eps)).to(x.dtype)
    return y.reshape(bf, c, h, w) * weight.reshape(1, c, 1, 1) + bias.reshape(1, c, 1, 1)


@torch.library.custom_op("reatco::group_norm", mutates_args=())
def group_norm_op(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, groups: int, eps: float, frames: int, silu: bool) -> torch.Tensor:
    """GroupNorm over (channels of the group, frames, height, width), then SiLU if `silu`: the maths
    of group_norm_across_frames as one op, so that the export can map it to a fused kernel."""
    y = _group_norm(x, weight, bias, groups, eps, frames)
    return F.silu(y) if silu else y


@group_norm_op.register_fake
def _(x, weight, bias, groups, eps, frames, silu):
    return torch.empty_like(x)


def group_norm_across_frames(x: torch.Tensor, norm: nn.GroupNorm, frames: int, silu: bool = False) -> torch.Tensor:
    """nn.GroupNorm applied to the 5-D tensor (b, c, f, h, w), as the reference does: statistics over
    (channels of the group, frames, height, width), then SiLU if `silu`. x is frames-major (b * f, c, h, w)."""
    if _FUSED_NORM.active():
        return group_norm_op(x, norm.weight, norm.bias, norm.num_groups, norm.eps, frames, silu)
    if in_gradient_graph():  # the same maths, with a backward of few nodes and no float32 activations
        return GroupNormAcrossFrames.apply(x, norm.weight, norm.bias, norm.num_groups, norm.eps, frames, silu)
    y = _group_norm(x, norm.weight, norm.bias, norm.num_groups, norm.eps, frames)
    return F.silu(y) if silu else y


def timestep_embedding(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """diffusers' sinusoidal embedding with flip_sin_to_cos=True and freq_shift=0: [cos, sin]."""
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    args = timesteps.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def upsample_nearest_2x(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour 2x upsampling written as expand + reshape, so its gradient is a plain sum.
    (Indexing with None would trace full-range slices, whose gradient exports as ScatterND: 27 ms of
    the SD-1.x RAD pass at 16 frames on the H200.)"""
    n, c, h, w = x.shape
    return x.reshape(n, c, h, 1, w, 1).expand(n, c, h, 2, w, 2).reshape(n, c, 2 * h, 2 * w)


class TimestepEmbedding(nn.Module):
    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_dim, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(x)))


class ResnetBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, temb_dim: int, groups: int, eps: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch, eps=eps)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb_dim, out_ch)
        self.norm2 = nn.GroupNorm(groups, out_ch, eps=eps)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x: torch.Tensor, temb: torch.Tensor, frames: int) -> torch.Tensor:
        h = self.conv1(group_norm_across_frames(x, self.norm1, frames, silu=True))
        t = self.time_emb_proj(F.silu(temb))  # (b, out), the same for every frame of a clip
        b, out = t.shape
        h = h + t[:, None, :].expand(b, frames, out).reshape(b * frames, out, 1, 1)
        h = self.conv2(group_norm_across_frames(h, self.norm2, frames, silu=True))
        if self.conv_shortcut is not None:
            x = self.conv_shortcut(x)
        return x + h


class Transformer3D(nn.Module):
    """GroupNorm (per frame), 1x1 projection in, transformer blocks, 1x1 projection out, residual."""

    def __init__(self, channels: int, heads: int, context_dim: int, groups: int, temporal: bool):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([TransformerBlock(channels, heads, context_dim, temporal)])
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, frames: int, store: list | None = None
    ) -> torch.Tensor:
        bf, c, h, w = x.shape
        # Per frame: the fused op with frames=1 (the same maths as nn.GroupNorm).
        normed = group_norm_across_frames(x, self.norm, 1) if _FUSED_NORM.active() else self.norm(x)
        t = self.proj_in(normed).permute(0, 2, 3, 1).reshape(bf, h * w, c)
        for block in self.transformer_blocks:
            t = block(t, context, frames, store)
        t = t.reshape(bf, h, w, c).permute(0, 3, 1, 2)
        return self.proj_out(t) + x


class Downsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(upsample_nearest_2x(x))


class DownBlock(nn.Module):
    def __init__(self, cfg: UNetConfig, in_ch: int, out_ch: int, temb_dim: int, cross: bool, last: bool):
        super().__init__()
        groups, eps = cfg.norm_num_groups, cfg.norm_eps
        self.resnets = nn.ModuleList(
            [ResnetBlock(in_ch if i == 0 else out_ch, out_ch, temb_dim, groups, eps) for i in range(cfg.layers_per_block)]
        )
        if cross:
            self.attentions = nn.ModuleList(
                [
                    Transformer3D(out_ch, cfg.attention_heads, cfg.cross_attention_dim, groups, cfg.temporal_attention)
                    for _ in range(cfg.layers_per_block)
                ]
            )
        else:
            self.attentions = None
        self.downsamplers = None if last else nn.ModuleList([Downsample(out_ch)])

    def forward(self, x, temb, context, frames, store=None):
        skips = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb, frames)
            if self.attentions is not None:
                x = self.attentions[i](x, context, frames, store)
            skips.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class UpBlock(nn.Module):
    def __init__(
        self, cfg: UNetConfig, in_ch: int, prev_ch: int, out_ch: int, temb_dim: int, cross: bool, last: bool
    ):
        super().__init__()
        groups, eps = cfg.norm_num_groups, cfg.norm_eps
        layers = cfg.layers_per_block + 1
        resnets = []
        for i in range(layers):
            skip_ch = in_ch if i == layers - 1 else out_ch
            resnet_in = prev_ch if i == 0 else out_ch
            resnets.append(ResnetBlock(resnet_in + skip_ch, out_ch, temb_dim, groups, eps))
        self.resnets = nn.ModuleList(resnets)
        if cross:
            self.attentions = nn.ModuleList(
                [
                    Transformer3D(out_ch, cfg.attention_heads, cfg.cross_attention_dim, groups, cfg.temporal_attention)
                    for _ in range(layers)
                ]
            )
        else:
            self.attentions = None
        self.upsamplers = None if last else nn.ModuleList([Upsample(out_ch)])

    def forward(self, x, skips, temb, context, frames, store=None, stop_before_upsample=False):
        for i, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1), temb, frames)
            if self.attentions is not None:
                x = self.attentions[i](x, context, frames, store)
        if self.upsamplers is not None and not stop_before_upsample:
            x = self.upsamplers[0](x)
        return x


class MidBlock(nn.Module):
    def __init__(self, cfg: UNetConfig, ch: int, temb_dim: int):
        super().__init__()
        groups, eps = cfg.norm_num_groups, cfg.norm_eps
        self.resnets = nn.ModuleList([ResnetBlock(ch, ch, temb_dim, groups, eps) for _ in range(2)])
        self.attentions = nn.ModuleList(
            [Transformer3D(ch, cfg.attention_heads, cfg.cross_attention_dim, groups, cfg.temporal_attention)]
        )

    def forward(self, x, temb, context, frames):
        x = self.resnets[0](x, temb, frames)
        x = self.attentions[0](x, context, frames)
        return self.resnets[1](x, temb, frames)


def _mean_maps(store: list[torch.Tensor], b: int, frames: int) -> torch.Tensor:
    """Recorded cross-attention probabilities (b, heads, f*n, tokens) per layer -> their mean over
    layers and heads, (b, f, n, tokens)."""
    maps = torch.stack(store).mean(dim=(0, 2))
    return maps.reshape(b, frames, -1, maps.shape[-1])


class UNet3D(nn.Module):
    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.config = cfg
        ch = cfg.block_out_channels
        temb_dim = ch[0] * 4
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb_dim)
        n = cfg.num_blocks
        self.down_blocks = nn.ModuleList(
            [
                DownBlock(cfg, ch[max(i - 1, 0)], ch[i], temb_dim, cfg.has_cross_attention(i), i == n - 1)
                for i in range(n)
            ]
        )
        self.mid_block = MidBlock(cfg, ch[-1], temb_dim)
        rev = list(reversed(ch))
        self.up_blocks = nn.ModuleList(
            [
                UpBlock(
                    cfg,
                    in_ch=rev[min(i + 1, n - 1)],
                    prev_ch=rev[max(i - 1, 0)],
                    out_ch=rev[i],
                    temb_dim=temb_dim,
                    cross=i > 0,
                    last=i == n - 1,
                )
                for i in range(n)
            ]
        )
        self.conv_norm_out = nn.GroupNorm(cfg.norm_num_groups, ch[0], eps=cfg.norm_eps)
        self.conv_out = nn.Conv2d(ch[0], cfg.out_channels, 3, padding=1)

    def _run(self, sample, timestep, context, store, stop_early=True):
        """Runs the UNet; with a `store` it records the RAD-level cross-attention probabilities and
        (with `stop_early`) stops after the last layer that has them: nothing later influences the
        RAD loss."""
        cfg = self.config
        b, c, f, h, w = sample.shape
        timesteps = timestep.reshape(-1).expand(b) if timestep.numel() == 1 else timestep.reshape(b)
        temb = self.time_embedding(timestep_embedding(timesteps, cfg.block_out_channels[0]).to(sample.dtype))
        x = self.conv_in(sample.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w))
        skips = [x]
        for i, block in enumerate(self.down_blocks):
            x, block_skips = block(x, temb, context, f, store if i == cfg.rad_level else None)
            skips.extend(block_skips)
        x = self.mid_block(x, temb, context, f)
        for i, block in enumerate(self.up_blocks):
            at_rad_level = i == cfg.rad_up_block
            x = block(
                x,
                skips,
                temb,
                context,
                f,
                store if at_rad_level else None,
                stop_before_upsample=at_rad_level and store is not None and stop_early,
            )
            if at_rad_level and store is not None and stop_early:
                return None
        x = self.conv_out(group_norm_across_frames(x, self.conv_norm_out, f, silu=True))
        return x.reshape(b, f, cfg.out_channels, h, w).permute(0, 2, 1, 3, 4)

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """ε prediction. sample (b, 4, f, h, w), timestep () or (b,), context (b, 77, D)."""
        return self._run(sample, timestep, context, None)

    def forward_with_rad_attention(self, sample: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ε prediction and the RAD-level cross-attention probabilities averaged over layers and heads,
        (b, f, ah*aw, tokens): training supervises where each object word attends."""
        store: list[torch.Tensor] = []
        eps = self._run(sample, timestep, context, store, stop_early=False)
        return eps, _mean_maps(store, sample.shape[0], sample.shape[2])

    def rad_attention(self, sample: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor, full_forward: bool = False) -> torch.Tensor:
        """The map RAD reads: cross-attention probabilities of the RAD-level layers (down and up blocks
        at latent / 2**rad_level), averaged over layers and heads. Returns (b, f, ah, aw, tokens).
        `full_forward` runs the whole UNet anyway, as the reference does (for its cost only)."""
        store: list[torch.Tensor] = []
        self._run(sample, timestep, context, store, stop_early=not full_forward)
        b, _, f, h, w = sample.shape
        scale = 2**self.config.rad_level
        return _mean_maps(store, b, f).reshape(b, f, h // scale, w // scale, -1)
