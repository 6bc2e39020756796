"""Weights from a diffusers-format SD-1.x folder and from a Tune-A-Video tuned UNet folder.

Module parameter names follow diffusers/transformers, so most keys map as they are; the mapping
handles the older diffusers VAE attention names and 1x1 convolutions stored as linear layers (and
back). Every mismatch is reported with the offending keys, never silently ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .clip_text import CLIPTextModel
from .config import ModelConfig, SchedulerConfig, TextConfig, UNetConfig, VAEConfig
from .unet3d import UNet3D
from .vae import AutoencoderKL


class CheckpointError(ValueError):
    """A checkpoint folder that does not fit the SD-1.x / Tune-A-Video architecture."""


WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "model.safetensors", "diffusion_pytorch_model.bin", "pytorch_model.bin")


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise CheckpointError(f"missing {path}")
    return json.loads(path.read_text())


def load_weights_file(folder: Path) -> dict[str, torch.Tensor]:
    for name in WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                return load_file(str(path))
            return torch.load(str(path), map_location="cpu", weights_only=True)
    raise CheckpointError(f"no weights in {folder} (looked for {', '.join(WEIGHT_FILES)})")


def unet_config_from_json(cfg: dict, temporal_attention: bool) -> UNetConfig:
    down = cfg.get("down_block_types", [])
    up = cfg.get("up_block_types", [])
    n = len(cfg["block_out_channels"])
    if [("CrossAttn" in t) for t in down] != [True] * (n - 1) + [False] or [("CrossAttn" in t) for t in up] != [False] + [True] * (n - 1):
        raise CheckpointError(f"unsupported UNet block layout: down {down}, up {up} (expected SD-1.x)")
    heads = cfg.get("attention_head_dim", 8)
    if not isinstance(heads, int):
        raise CheckpointError(f"per-block attention_head_dim {heads} is an SD-2.x layout; only SD-1.x is supported")
    if cfg.get("use_linear_projection", False):
        raise CheckpointError("use_linear_projection=true is an SD-2.x layout; only SD-1.x is supported")
    if not cfg.get("flip_sin_to_cos", True) or cfg.get("freq_shift", 0) != 0:
        raise CheckpointError("unsupported timestep embedding (need flip_sin_to_cos=true, freq_shift=0)")
    return UNetConfig(
        in_channels=cfg.get("in_channels", 4),
        out_channels=cfg.get("out_channels", 4),
        block_out_channels=tuple(cfg["block_out_channels"]),
        layers_per_block=cfg.get("layers_per_block", 2),
        attention_heads=heads,
        cross_attention_dim=cfg.get("cross_attention_dim", 768),
        norm_num_groups=cfg.get("norm_num_groups", 32),
        norm_eps=cfg.get("norm_eps", 1e-5),
        temporal_attention=temporal_attention,
    )


def vae_config_from_json(cfg: dict) -> VAEConfig:
    return VAEConfig(
        in_channels=cfg.get("in_channels", 3),
        latent_channels=cfg.get("latent_channels", 4),
        block_out_channels=tuple(cfg["block_out_channels"]),
        layers_per_block=cfg.get("layers_per_block", 2),
        norm_num_groups=cfg.get("norm_num_groups", 32),
        scaling_factor=cfg.get("scaling_factor", 0.18215),
    )


def text_config_from_json(cfg: dict) -> TextConfig:
    return TextConfig(
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["hidden_size"],
        intermediate_size=cfg["intermediate_size"],
        num_layers=cfg["num_hidden_layers"],
        num_heads=cfg["num_attention_heads"],
        max_length=cfg.get("max_position_embeddings", 77),
        layer_norm_eps=cfg.get("layer_norm_eps", 1e-5),
        hidden_act=cfg.get("hidden_act", "quick_gelu"),
    )


def scheduler_config_from_json(cfg: dict) -> SchedulerConfig:
    if cfg.get("beta_schedule", "scaled_linear") != "scaled_linear":
        raise CheckpointError(f"unsupported beta_schedule {cfg.get('beta_schedule')!r} (need scaled_linear)")
    return SchedulerConfig(
        num_train_timesteps=cfg.get("num_train_timesteps", 1000),
        beta_start=cfg.get("beta_start", 0.00085),
        beta_end=cfg.get("beta_end", 0.012),
        set_alpha_to_one=cfg.get("set_alpha_to_one", False),
        steps_offset=cfg.get("steps_offset", 1),
    )


_OLD_VAE_ATTENTION = {"query": "to_q", "key": "to_k", "value": "to_v", "proj_attn": "to_out.0"}


def map_vae_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Older diffusers VAE checkpoints name the mid-block attention query/key/value/proj_attn."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if ".attentions." in key and len(parts) >= 2 and parts[-2] in _OLD_VAE_ATTENTION:
            key = ".".join(parts[:-2] + [_OLD_VAE_ATTENTION[parts[-2]], parts[-1]])
        out[key] = value
    return out


def map_text_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {
        key.removeprefix("text_model."): value
        for key, value in state.items()
        if not key.endswith("position_ids")
    }


def load_into(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Copies `state` into `module`, reshaping only between a linear layer and a 1x1 convolution
    (the same weights stored either way); anything else that does not match is an error."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise CheckpointError(
            f"{what}: the checkpoint does not fit the architecture; "
            f"{len(missing)} missing keys (e.g. {missing[:5]}), {len(unexpected)} unexpected keys (e.g. {unexpected[:5]})"
        )
    fitted = {}
    for key, target in own.items():
        value = state[key]
        if value.shape != target.shape:
            if value.numel() == target.numel() and value.squeeze().shape == target.squeeze().shape:
                value = value.reshape(target.shape)
            else:
                raise CheckpointError(f"{what}: {key} has shape {tuple(value.shape)}, expected {tuple(target.shape)}")
        fitted[key] = value.to(target.dtype)
    module.load_state_dict(fitted)


@dataclass
class LoadedPipeline:
    config: ModelConfig
    unet: UNet3D
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer_dir: Path


def load_pipeline(sd_folder: str | Path, tuned_unet_folder: str | Path | None = None) -> LoadedPipeline:
    """A diffusers SD-1.x folder (unet/, vae/, text_encoder/, tokenizer/, scheduler/), optionally with
    the UNet replaced by a Tune-A-Video tuned one (a folder with config.json and weights, or its parent
    with a unet/ subfolder). Temporal attention exists exactly when the UNet weights have it."""
    root = Path(sd_folder)
    if not root.is_dir():
        raise CheckpointError(f"{root} is not a folder")
    unet_dir = Path(tuned_unet_folder) if tuned_unet_folder else root / "unet"
    if tuned_unet_folder and (unet_dir / "unet").is_dir():
        unet_dir = unet_dir / "unet"
    unet_state = load_weights_file(unet_dir)
    temporal = any(".attn_temp." in key for key in unet_state)
    config = ModelConfig(
        unet=unet_config_from_json(read_json(unet_dir / "config.json"), temporal),
        vae=vae_config_from_json(read_json(root / "vae" / "config.json")),
        text=text_config_from_json(read_json(root / "text_encoder" / "config.json")),
        scheduler=scheduler_config_from_json(read_json(root / "scheduler" / "scheduler_config.json")),
    )
    if config.text.hidden_size != config.unet.cross_attention_dim:
        raise CheckpointError(
            f"text encoder width {config.text.hidden_size} differs from the UNet's cross_attention_dim {config.unet.cross_attention_dim}"
        )
    tokenizer_dir = root / "tokenizer"
    for name in ("vocab.json", "merges.txt"):
        if not (tokenizer_dir / name).is_file():
            raise CheckpointError(f"missing {tokenizer_dir / name}")
    unet = UNet3D(config.unet)
    load_into(unet, unet_state, "unet")
    vae = AutoencoderKL(config.vae)
    load_into(vae, map_vae_keys(load_weights_file(root / "vae")), "vae")
    text = CLIPTextModel(config.text)
    load_into(text, map_text_keys(load_weights_file(root / "text_encoder")), "text_encoder")
    return LoadedPipeline(config, unet.eval(), vae.eval(), text.eval(), tokenizer_dir)
