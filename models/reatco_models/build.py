"""Where a package's PyTorch modules come from: a checkpoint folder, or random weights of a preset
(SD-1.x size for GPU benchmarks without a checkpoint, or the tiny test size). A small picklable spec,
so parallel export processes can each rebuild the same modules."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from .clip_text import CLIPTextModel
from .config import SD15, ModelConfig, tiny_config
from .loading import load_pipeline
from .unet3d import UNet3D
from .vae import AutoencoderKL

TINY_CAPTIONS = [
    f"a {colour} {shape} and a {colour2} {shape2} on a {bg_colour} {texture} background"
    for colour, colour2 in (("red", "blue"), ("yellow", "purple"), ("green", "orange"), ("white", "black"))
    for shape, shape2 in (("circle", "square"), ("star", "ring"), ("triangle", "disk"))
    for bg_colour, texture in (("blue", "gradient"), ("green", "striped"), ("grey", "checkered"))
] + ["two hares are grazing in the grass", "a cat and a swan are grazing in the grass"]


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "checkpoint" | "random" | "trained" (a `train` output folder, in `checkpoint`)
    checkpoint: str | None = None
    tuned_unet: str | None = None
    preset: str = "sd15"  # random weights: "sd15" or "tiny"
    temporal_attention: bool = False
    seed: int = 0
    tokenizer_dir: str | None = None


def build_models(source: ModelSource) -> tuple[ModelConfig, UNet3D, AutoencoderKL, CLIPTextModel, Path]:
    if source.kind == "checkpoint":
        loaded = load_pipeline(source.checkpoint, source.tuned_unet)
        return loaded.config, loaded.unet, loaded.vae, loaded.text_encoder, loaded.tokenizer_dir
    if source.kind == "trained":
        from .shapes import load_trained

        cfg, unet, vae, text, tokenizer_dir, _ = load_trained(Path(source.checkpoint))
        return cfg, unet, vae, text, tokenizer_dir
    if source.kind != "random":
        raise ValueError(f"unknown model source {source.kind!r}")
    if source.tokenizer_dir is None:
        raise ValueError("random weights need a tokenizer folder (vocab.json, merges.txt)")
    tokenizer_dir = Path(source.tokenizer_dir)
    vocab_size = len(__import__("json").loads((tokenizer_dir / "vocab.json").read_text()))
    if source.preset == "tiny":
        cfg = tiny_config(vocab_size, temporal_attention=source.temporal_attention)
    elif source.preset == "sd15":
        cfg = dataclasses.replace(
            SD15,
            unet=dataclasses.replace(SD15.unet, temporal_attention=source.temporal_attention),
            text=dataclasses.replace(SD15.text, vocab_size=vocab_size),
        )
    else:
        raise ValueError(f"unknown preset {source.preset!r}")
    torch.manual_seed(source.seed)
    return cfg, UNet3D(cfg.unet), AutoencoderKL(cfg.vae), CLIPTextModel(cfg.text), tokenizer_dir
