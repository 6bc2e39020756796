"""Trains the embedded model on the synthetic shapes world (world.py), on one GPU within minutes:

  1. the VAE (reconstruction + a small KL term) on single frames;
  2. the video UNet and the CLIP-style text encoder together, ε-prediction on 8-frame clips with the
     same noise schedule as SD-1.x, captions dropped 10% of the time for classifier-free guidance,
     with an exponential moving average of the weights; plus a grounding term (TokenCompose's token
     loss, Wang et al. 2024) that asks each object word's RAD-level cross-attention to fall on that
     object, so a word's attention and what the model draws there are bound (what RAD relies on).

Clips are rendered on the GPU on the fly from seeds of the training stream (the benchmark draws from
another stream). Each phase runs for a time budget; the final EMA weights, the VAE, the scaling factor
and the tokenizer are written to the output folder (a checkpoint is refreshed every minute).

  python -m reatco_models train --out /tmp/shapes --vae-minutes 3 --unet-minutes 9
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .bpe_train import train_clip_bpe, write_clip_bpe
from .clip_text import CLIPTextModel
from .config import ModelConfig, shapes_config
from .scheduler import DDIMScheduler
from .tokenizer import MAX_LENGTH, ClipTokenizer
from .unet3d import UNet3D
from .vae import AutoencoderKL
from .world import MAX_OBJECTS, Scene, all_caption_words, random_scene, render_layers

TRAIN_STREAM = 1  # seeds: TRAIN_STREAM * 2**40 + step; the benchmark uses another stream


@dataclass
class TrainSettings:
    size: int = 128
    frames: int = 8
    vae_minutes: float = 3.0
    unet_minutes: float = 9.0
    vae_batch: int = 48
    unet_batch: int = 32
    vae_lr: float = 2e-4
    unet_lr: float = 4e-4
    warmup: int = 200
    ema: float = 0.999
    caption_dropout: float = 0.1
    grounding_weight: float = 0.02
    kl_weight: float = 1e-6
    seed: int = 20241211
    workers: int = max(1, (os.cpu_count() or 2) - 2)  # clips are rendered on the CPU


def render_batch(step: int, clips: int, frames: int, size: int, device) -> tuple[torch.Tensor, list[torch.Tensor], list[Scene]]:
    """(clips, frames, 3, size, size) in [-1, 1], each clip's object coverage (objects, frames, size,
    size) and the scenes, from the training stream."""
    generator = torch.Generator().manual_seed(TRAIN_STREAM * 2**40 + step)
    scenes = [random_scene(generator, size) for _ in range(clips)]
    layers = [render_layers(s, frames, size, device) for s in scenes]
    return torch.stack([img for img, _ in layers]) / 127.5 - 1, [coverage for _, coverage in layers], scenes


def word_selection(tokenizer: ClipTokenizer, scene: Scene) -> torch.Tensor:
    """(MAX_OBJECTS, 77): 1 at the tokens of each object's words ("red circle") in the scene's caption."""
    selection = torch.zeros(MAX_OBJECTS, MAX_LENGTH)
    for k, obj in enumerate(scene.objects):
        selection[k, tokenizer.find_word_tokens(scene.caption, obj.phrase).positions] = 1
    return selection


def grounding_loss(maps: torch.Tensor, coverage: torch.Tensor, selection: torch.Tensor) -> torch.Tensor:
    """TokenCompose's token loss: (1 - the share of a word's attention that lies on its object)²,
    averaged over the selected words and frames.

    maps (b, f, n, T): cross-attention probabilities over the n cells; coverage (b, K, f, n): how much
    of each cell object k covers (a cell at least half covered counts fully); selection (b, K, T)."""
    share = maps / maps.sum(dim=2, keepdim=True).clamp_min(1e-12)
    on_object = torch.einsum("bfnt,bkfn->bkt", share, (2 * coverage).clamp(max=1)) / maps.shape[1]
    return (selection * (1 - on_object) ** 2).sum() / selection.sum().clamp_min(1)


class RenderedBatches(IterableDataset):
    """Batches rendered on the CPU by DataLoader workers, so the GPU never waits on Python; worker w
    renders steps first + w, first + w + workers, ... (deterministic, disjoint). With a tokenizer a
    batch also holds the caption ids and, for the grounding loss, each object's coverage of the
    `cell`-pixel attention grid (b, K, f, n) and its words' tokens (b, K, 77)."""

    def __init__(self, first: int, clips: int, frames: int, size: int, tokenizer: ClipTokenizer | None, cell: int = 1):
        self.first, self.clips, self.frames, self.size, self.tokenizer, self.cell = first, clips, frames, size, tokenizer, cell

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        torch.set_num_threads(1)
        step = self.first + worker
        while True:
            video, coverages, scenes = render_batch(step, self.clips, self.frames, self.size, "cpu")
            if self.tokenizer is None:
                yield video, torch.zeros(0), torch.zeros(0), torch.zeros(0)
            else:
                ids = torch.stack([torch.tensor(self.tokenizer.encode(s.caption)) for s in scenes])
                cells = torch.zeros(self.clips, MAX_OBJECTS, self.frames, (self.size // self.cell) ** 2)
                for i, coverage in enumerate(coverages):
                    cells[i, : len(coverage)] = F.avg_pool2d(coverage, self.cell).flatten(2)
                yield video, ids, cells, torch.stack([word_selection(self.tokenizer, s) for s in scenes])
            step += workers


def batches(first: int, clips: int, frames: int, s: TrainSettings, tokenizer=None, cell: int = 1):
    loader = DataLoader(RenderedBatches(first, clips, frames, s.size, tokenizer, cell), batch_size=None, num_workers=s.workers, pin_memory=torch.cuda.is_available(), prefetch_factor=4 if s.workers else None)
    return iter(loader)


def make_tokenizer(out: Path) -> ClipTokenizer:
    vocab, merges = train_clip_bpe(all_caption_words(), 600)
    write_clip_bpe(out / "tokenizer", vocab, merges)
    return ClipTokenizer.from_dir(out / "tokenizer")


def learning_rate(step: int, base: float, warmup: int) -> float:
    return base * min(1.0, (step + 1) / warmup)


def train_vae(vae: AutoencoderKL, s: TrainSettings, device, log) -> float:
    optimizer = torch.optim.AdamW(vae.parameters(), lr=s.vae_lr, weight_decay=0.0)
    deadline = time.time() + 60 * s.vae_minutes
    step = 0
    data = batches(10**9, s.vae_batch // 4, 4, s)
    while time.time() < deadline:
        video = next(data)[0]
        frames = video.to(device, non_blocking=True).flatten(0, 1)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, s.vae_lr, s.warmup)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            moments = vae.quant_conv(vae.encoder(frames))
            mean, logvar = moments.float().chunk(2, dim=1)
            logvar = logvar.clamp(-30, 20)
            z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
            recon = vae.decode(z).float()
        reconstruction = F.mse_loss(recon, frames) + 0.5 * F.l1_loss(recon, frames)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = reconstruction + s.kl_weight * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        if step % 200 == 0:
            psnr = 10 * math.log10(4 / F.mse_loss(recon.detach(), frames).item())
            log(f"vae step {step} loss {loss.item():.5f} psnr {psnr:.2f} dB")
        step += 1
    vae.eval()
    with torch.no_grad():
        video = render_batch(2 * 10**9, 16, 4, s.size, device)[0]
        frames = video.flatten(0, 1)
        latents = vae.encode_mean(frames)
        psnr = 10 * math.log10(4 / F.mse_loss(vae.decode(latents), frames).item())
    scale = 1.0 / latents.std().item()
    log(f"vae done: {step} steps, held-out reconstruction {psnr:.2f} dB, scaling factor {scale:.4f}")
    return scale


def train_unet(cfg: ModelConfig, unet: UNet3D, text: CLIPTextModel, vae: AutoencoderKL, scale: float, tokenizer: ClipTokenizer, s: TrainSettings, device, log, checkpoint, first: int = 0) -> tuple[UNet3D, CLIPTextModel, int]:
    """Trains from step `first` of the training stream (a resumed run goes on to clips it has not seen)."""
    params = list(unet.parameters()) + list(text.parameters())
    optimizer = torch.optim.AdamW(params, lr=s.unet_lr, weight_decay=0.01)
    ema_unet, ema_text = copy.deepcopy(unet).requires_grad_(False), copy.deepcopy(text).requires_grad_(False)
    alphas = DDIMScheduler(cfg.scheduler).alphas_cumprod.to(device)
    empty = torch.tensor(tokenizer.encode(""), device=device)
    deadline = time.time() + 60 * s.unet_minutes
    last_checkpoint = started = time.time()
    step = 0
    data = batches(first, s.unet_batch, s.frames, s, tokenizer, cfg.attention_cell_px)
    while time.time() < deadline:
        video, ids, coverage, selection = (x.to(device, non_blocking=True) for x in next(data))
        with torch.no_grad():
            latents = vae.encode_mean(video.flatten(0, 1)).float() * scale
            b, f = video.shape[:2]
            x0 = latents.reshape(b, f, *latents.shape[1:]).permute(0, 2, 1, 3, 4)  # (b, C, F, h, w)
        drop = torch.rand(b, device=device) < s.caption_dropout
        ids = torch.where(drop[:, None], empty[None, :], ids)
        selection = selection * ~drop[:, None, None]
        t = torch.randint(0, cfg.scheduler.num_train_timesteps, (b,), device=device)
        noise = torch.randn_like(x0)
        a = alphas[t].view(b, 1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, s.unet_lr, s.warmup)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            prediction, maps = unet.forward_with_rad_attention(xt, t.float(), text(ids))
        denoising = F.mse_loss(prediction.float(), noise)
        grounding = grounding_loss(maps.float(), coverage, selection)
        loss = denoising + s.grounding_weight * grounding
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        decay = min(s.ema, (1 + step) / (10 + step))  # EMA warm-up: early weights fade quickly
        with torch.no_grad():
            for model, average in ((unet, ema_unet), (text, ema_text)):
                for p, q in zip(model.parameters(), average.parameters()):
                    q.lerp_(p, 1 - decay)
        if step % 200 == 0:
            log(f"unet step {step} loss {denoising.item():.4f} grounding {grounding.item():.3f} ({step / max(time.time() - started, 1e-6):.1f} steps/s)")
        if time.time() - last_checkpoint > 60:
            checkpoint(ema_unet, ema_text, first + step)
            last_checkpoint = time.time()
        step += 1
    log(f"unet done: {step} steps")
    return ema_unet, ema_text, first + step


def train(out: Path, settings: TrainSettings | None = None, device_name: str | None = None, log=print, init: Path | None = None) -> dict:
    s = settings or TrainSettings()
    device = torch.device(device_name or ("cuda" if torch.cuda.is_available() else "cpu"))
    torch.manual_seed(s.seed)
    out.mkdir(parents=True, exist_ok=True)
    if init is not None:  # the resumed text encoder's embeddings belong to that run's vocabulary
        import shutil

        shutil.copytree(init / "tokenizer", out / "tokenizer", dirs_exist_ok=True)
        tokenizer = ClipTokenizer.from_dir(out / "tokenizer")
    else:
        tokenizer = make_tokenizer(out)
    cfg = shapes_config(len(tokenizer.vocab))
    vae = AutoencoderKL(cfg.vae).to(device)
    unet = UNet3D(cfg.unet).to(device)
    text = CLIPTextModel(cfg.text).to(device)
    first = 0
    if init is not None:  # resume from an earlier run's weights (its tokenizer must be this one)
        # Runs before "stream_position" was recorded restarted the stream at 0 and never ran 5000 steps.
        first = json.loads((init / "training.json").read_text()).get("stream_position", 5000)
        weights = load_file(str(init / "weights.safetensors"))
        for prefix, module in (("unet.", unet), ("text.", text), ("vae.", vae)):
            module.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})
        log(f"resumed from {init} at step {first} of the training stream")
    started = time.time()
    scale = train_vae(vae, s, device, log)
    vae.requires_grad_(False)

    def checkpoint(u, t, stream_position):
        weights = {f"unet.{k}": v.float().cpu().contiguous() for k, v in u.state_dict().items()}
        weights.update({f"text.{k}": v.float().cpu().contiguous() for k, v in t.state_dict().items()})
        weights.update({f"vae.{k}": v.float().cpu().contiguous() for k, v in vae.state_dict().items()})
        save_file(weights, str(out / "weights.safetensors.tmp"))
        (out / "weights.safetensors.tmp").replace(out / "weights.safetensors")
        meta = {"stream_position": stream_position, "scaling_factor": scale, "settings": asdict(s), "config": cfg.to_dict(), "minutes": (time.time() - started) / 60}
        (out / "training.json").write_text(json.dumps(meta, indent=1))

    ema_unet, ema_text, stream_position = train_unet(cfg, unet, text, vae, scale, tokenizer, s, device, log, checkpoint, first)
    checkpoint(ema_unet, ema_text, stream_position)
    log(f"wrote {out} after {(time.time() - started) / 60:.1f} minutes")
    return json.loads((out / "training.json").read_text())
