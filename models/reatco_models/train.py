"""Trains the embedded model on the synthetic shapes world (world.py), on one GPU within minutes:

  1. the VAE (reconstruction + a small KL term) on single frames, or, resuming, only its decoder
     (train_decoder: the latent space is kept, the decoder learns to leave the pixels away from an
     edited region alone);
  2. the video UNet and the CLIP-style text encoder together, ε-prediction on 8-frame clips with the
     same noise schedule as SD-1.x, captions dropped 10% of the time for classifier-free guidance,
     with an exponential moving average of the weights; plus a grounding term (TokenCompose's token
     loss, Wang et al. 2024) that asks each object word's RAD-level cross-attention to fall on that
     object, so a word's attention and what the model draws there are bound (what RAD relies on),
     and RAD's own loss on each object word and the object's box, so that the word's attention,
     sharpened the way the reference sharpens it (x100 over the tokens), is large inside the box
     and small outside: SD-1.x's attention behaves so, and RAD's constants assume it. Without it
     a word can hold a negligible share of a cell's attention wherever its object is not, and
     RAD's gradient there vanishes;
  3. and, for a quarter of each batch, edits as ReAtCo makes them: a clip noised at a RAD-phase
     timestep from a source scene that lacks the captioned object (added) or has another one there
     (replaced), moved by one RAD step towards the object's region, and asked to denoise into the
     scene the caption describes. Plain training never shows a latent that lacks what its caption
     names, so without this the model turns the DDIM-inverted background of an add edit back into
     background however strongly RAD pulls the word's attention into the region.

Clips are rendered on the GPU on the fly from seeds of the training stream (the benchmark draws from
another stream). Each phase runs for a time budget; the final EMA weights, the VAE, the scaling factor
and the tokenizer are written to the output folder (a checkpoint is refreshed every minute).

  python -m reatco_models train --out /tmp/shapes --vae-minutes 3 --unet-minutes 9
  python -m reatco_models train --init CHECKPOINT --out /tmp/shapes --vae-minutes 0 --decoder-minutes 6 --unet-minutes 0
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .bpe_train import train_clip_bpe, write_clip_bpe
from .clip_text import CLIPTextModel
from .config import ModelConfig, shapes_config
from .rad import LOSS_SCALE, rank_weights, smooth_3d, step_size
from .scheduler import DDIMScheduler
from .tokenizer import MAX_LENGTH, ClipTokenizer
from .unet3d import UNet3D
from .vae import AutoencoderKL
from .world import MAX_OBJECTS, Scene, WorldObject, all_caption_words, edit_source, random_scene, render_clip, render_layers

TRAIN_STREAM = 1  # seeds: TRAIN_STREAM * 2**40 + step; the benchmark uses another stream
# Steps of the training stream where the VAE phases draw their frames, far past any UNet run.
VAE_STEPS, HELD_OUT_STEP, DECODER_STEPS = 10**9, 2 * 10**9, 3 * 10**9


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
    rad_grounding_weight: float = 0.01
    edit_fraction: float = 0.25
    edit_margin: float = 1.2  # the RAD region around an edited object, as the benchmark's regions
    kl_weight: float = 1e-6
    decoder_minutes: float = 0.0
    decoder_lr: float = 1e-4
    decoder_margin_px: int = 4  # pixels next to a pasted box, which its latent cells may rightly change
    decoder_max_gain: float = 2.0  # generated latents run up to about 1.5x the source's RMS (measured)
    seed: int = 20241211
    workers: int = max(1, (os.cpu_count() or 2) - 2)  # clips are rendered on the CPU

    def with_overrides(self, assignments: list[str]) -> "TrainSettings":
        """A copy with "name=value" assignments applied, each value parsed as its field's type."""
        types = {f.name: type(getattr(self, f.name)) for f in fields(self)}
        changes = {}
        for assignment in assignments:
            name, _, value = assignment.partition("=")
            if name not in types:
                raise ValueError(f"unknown training setting {name!r}; known: {', '.join(types)}")
            changes[name] = types[name](value)
        return replace(self, **changes)


def render_batch(step: int, clips: int, frames: int, size: int, device) -> tuple[torch.Tensor, list[torch.Tensor], list[Scene]]:
    """(clips, frames, 3, size, size) in [-1, 1], each clip's object coverage (objects, frames, size,
    size) and the scenes, from the training stream."""
    generator = torch.Generator().manual_seed(TRAIN_STREAM * 2**40 + step)
    scenes = [random_scene(generator, size) for _ in range(clips)]
    layers = [render_layers(s, frames, size, device) for s in scenes]
    return torch.stack([img for img, _ in layers]) / 127.5 - 1, [coverage for _, coverage in layers], scenes


def region_cells(obj: WorldObject, frames: int, size: int, cell: int, margin: float) -> torch.Tensor:
    """(frames, size/cell, size/cell) 0/1: the object's box grown by `margin`, on the attention grid
    the way the engine rasterises a region (coordinates / cell, rounded half to even)."""
    grid = size // cell
    cells = torch.zeros(frames, grid, grid)
    for f in range(frames):
        x1, y1, x2, y2 = (min(grid, max(0, round(v / cell))) for v in obj.box(f, size, margin))
        cells[f, y1:y2, x1:x2] = 1
    return cells


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


def rad_scores(maps: torch.Tensor, boxes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RAD's fg and bg of every token 1..T-2 for each box, (b, K, T-2) each: rad.rad_statistics for
    all tokens at once. maps (b, f, n, T) with n a square grid; boxes (b, K, f, n) 0/1."""
    b, f, n, tokens = maps.shape
    grid = math.isqrt(n)
    s = torch.softmax(100 * maps[..., 1 : tokens - 1], dim=-1)
    a = smooth_3d(s.permute(0, 3, 1, 2).reshape(-1, f, grid, grid)).reshape(b, 1, tokens - 2, f, n)
    inside = boxes[:, :, None]
    weights_fg, weights_bg = (w[:, :, None] for w in rank_weights(boxes))
    fg = (torch.sort(a * inside, dim=-1, descending=True).values * weights_fg).sum(-1).mean(-1)  # (b, K, T-2)
    bg = (torch.sort(a * (1 - inside), dim=-1, descending=True).values * weights_bg).sum(-1).mean(-1)
    return fg, bg


def rad_grounding_loss(maps: torch.Tensor, boxes: torch.Tensor, selection: torch.Tensor) -> torch.Tensor:
    """RAD's loss, (1 - fg)_+ + bg, for every selected word and its object's box, averaged over the
    selected words. maps (b, f, n, T); boxes (b, K, f, n) 0/1; selection (b, K, T)."""
    fg, bg = rad_scores(maps, boxes)
    words = selection[..., 1:-1]
    return (words * (F.relu(1 - fg) + bg)).sum() / words.sum().clamp_min(1)


class RenderedBatches(IterableDataset):
    """Batches rendered on the CPU by DataLoader workers, so the GPU never waits on Python; worker w
    renders steps first + w, first + w + workers, ... (deterministic, disjoint). A batch is a dict:
    "video" (b, f, 3, size, size) and, with a tokenizer, the caption "ids", for the grounding loss
    each object's "coverage" of the `cell`-pixel attention grid (b, K, f, n), its box there as a
    region ("boxes", same shape, 0/1) and its words' tokens "selection" (b, K, 77), and for the first `edits` clips an edit's "source" video, the edited
    object's "region" on the attention grid (e, f, g, g) and its shape word's "token" (e,)."""

    def __init__(self, first: int, clips: int, frames: int, size: int, tokenizer: ClipTokenizer | None, cell: int = 1, edits: int = 0, margin: float = 1.2):
        self.first, self.clips, self.frames, self.size, self.tokenizer, self.cell = first, clips, frames, size, tokenizer, cell
        self.edits, self.margin = edits, margin

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        torch.set_num_threads(1)
        step = self.first + worker
        while True:
            video, coverages, scenes = render_batch(step, self.clips, self.frames, self.size, "cpu")
            if self.tokenizer is None:
                yield {"video": video}
            else:
                ids = torch.stack([torch.tensor(self.tokenizer.encode(s.caption)) for s in scenes])
                cells = torch.zeros(self.clips, MAX_OBJECTS, self.frames, (self.size // self.cell) ** 2)
                boxes = torch.zeros_like(cells)
                for i, (coverage, scene) in enumerate(zip(coverages, scenes)):
                    cells[i, : len(coverage)] = F.avg_pool2d(coverage, self.cell).flatten(2)
                    for k, obj in enumerate(scene.objects):
                        boxes[i, k] = region_cells(obj, self.frames, self.size, self.cell, self.margin).flatten(1)
                selection = torch.stack([word_selection(self.tokenizer, s) for s in scenes])
                yield {"video": video, "ids": ids, "coverage": cells, "boxes": boxes, "selection": selection, **self.edit_pairs(step, scenes)}
            step += workers

    def edit_pairs(self, step: int, scenes: list[Scene]) -> dict[str, torch.Tensor]:
        generator = torch.Generator().manual_seed(TRAIN_STREAM * 2**40 + 2**39 + step)  # independent of the scenes' draws
        sources, regions, tokens = [], [], []
        for scene in scenes[: self.edits]:
            source, k = edit_source(scene, generator)
            edited = scene.objects[k]
            sources.append(render_clip(source, self.frames, self.size) / 127.5 - 1)
            regions.append(region_cells(edited, self.frames, self.size, self.cell, self.margin))
            tokens.append(self.tokenizer.find_word_tokens(scene.caption, edited.phrase).positions[-1])
        if not sources:
            return {}
        return {"source": torch.stack(sources), "region": torch.stack(regions), "token": torch.tensor(tokens)}


def batches(first: int, clips: int, frames: int, s: TrainSettings, tokenizer=None, cell: int = 1, edits: int = 0):
    loader = DataLoader(RenderedBatches(first, clips, frames, s.size, tokenizer, cell, edits, s.edit_margin), batch_size=None, num_workers=s.workers, pin_memory=torch.cuda.is_available(), prefetch_factor=4 if s.workers else None)
    return iter(loader)


def make_tokenizer(out: Path) -> ClipTokenizer:
    vocab, merges = train_clip_bpe(all_caption_words(), 600)
    write_clip_bpe(out / "tokenizer", vocab, merges)
    return ClipTokenizer.from_dir(out / "tokenizer")


def learning_rate(step: int, base: float, warmup: int) -> float:
    return base * min(1.0, (step + 1) / warmup)


def psnr_db(mse: torch.Tensor) -> float:
    """PSNR of a mean squared error between frames in [-1, 1] (peak-to-peak 2)."""
    return 10 * math.log10(4 / mse.item())


def held_out_frames(s: TrainSettings, device) -> torch.Tensor:
    """64 frames (16 clips of 4) no VAE phase trains on, (64, 3, size, size)."""
    return render_batch(HELD_OUT_STEP, 16, 4, s.size, device)[0].flatten(0, 1)


def train_vae(vae: AutoencoderKL, s: TrainSettings, device, log) -> float:
    optimizer = torch.optim.AdamW(vae.parameters(), lr=s.vae_lr, weight_decay=0.0)
    deadline = time.time() + 60 * s.vae_minutes
    step = 0
    data = batches(VAE_STEPS, s.vae_batch // 4, 4, s)
    while time.time() < deadline:
        video = next(data)["video"]
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
            log(f"vae step {step} loss {loss.item():.5f} psnr {psnr_db(F.mse_loss(recon.detach(), frames)):.2f} dB")
        step += 1
    vae.eval()
    with torch.no_grad():
        frames = held_out_frames(s, device)
        latents = vae.encode_mean(frames)
        psnr = psnr_db(F.mse_loss(vae.decode(latents), frames))
    scale = 1.0 / latents.std().item()
    log(f"vae done: {step} steps, held-out reconstruction {psnr:.2f} dB, scaling factor {scale:.4f}")
    return scale


def paste_box(latent: torch.Tensor, other: torch.Tensor, generator: torch.Generator, max_gain: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Each frame's latent with a random box of cells (a quarter to a half of the side) taken from
    `other` at a random gain in [1/max_gain, max_gain]: what the decoder sees after IRJS, a region of
    generated latent inside the source's. Returns the pasted latents and the box mask (n, 1, h, w)."""
    n, _, h, w = latent.shape
    mask = torch.zeros(n, 1, h, w)
    for i in range(n):
        bh, bw = (int(torch.randint(d // 4, d // 2 + 1, (1,), generator=generator)) for d in (h, w))
        y, x = int(torch.randint(0, h - bh + 1, (1,), generator=generator)), int(torch.randint(0, w - bw + 1, (1,), generator=generator))
        mask[i, :, y : y + bh, x : x + bw] = 1
    gain = max_gain ** (2 * torch.rand(n, 1, 1, 1, generator=generator) - 1)
    mask, gain = mask.to(latent.device), gain.to(latent.device)
    return latent * (1 - mask) + gain * other * mask, mask


def far_from_box(mask: torch.Tensor, cell_px: int, margin_px: int) -> torch.Tensor:
    """The pixels farther than `margin_px` from a latent box mask (n, 1, h, w): (n, 1, h·cell, w·cell) 0/1."""
    pixels = F.interpolate(mask, scale_factor=cell_px, mode="nearest")
    return 1 - F.max_pool2d(pixels, 2 * margin_px + 1, stride=1, padding=margin_px)


def paste_from_neighbours(latents: torch.Tensor, size: int, generator: torch.Generator, s: TrainSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """paste_box with each frame's box taken from the previous frame of the batch, and the pixels of
    the `size`-pixel frames that must stay as they were (far_from_box)."""
    pasted, mask = paste_box(latents, latents.roll(1, 0), generator, s.decoder_max_gain)
    return pasted, far_from_box(mask, size // latents.shape[-1], s.decoder_margin_px)


def train_decoder(vae: AutoencoderKL, s: TrainSettings, device, log) -> None:
    """Fine-tunes the decoder with the encoder frozen, so the latent space, and the UNet trained in
    it, stay as they are. Half of each batch is plain reconstruction; in the other half a box of each
    frame's latent comes from another frame at another gain (paste_box), and the pixels away from the
    box must still be the frame's own. IRJS leaves generated latent inside the regions, and through
    GroupNorm's and the mid-block attention's frame-wide statistics a small decoder otherwise shifts
    the colours of the whole frame (measured: 42 → 22 dB outside the region on a benchmark case)."""
    vae.requires_grad_(False)
    params = [*vae.decoder.parameters(), *vae.post_quant_conv.parameters()]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=s.decoder_lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(s.seed)
    held_out = held_out_frames(s, device)
    with torch.no_grad():
        held_out_latents = vae.encode_mean(held_out)
        pasted_held_out, held_out_keep = paste_from_neighbours(held_out_latents, s.size, torch.Generator().manual_seed(0), s)

    def report(when: str) -> None:
        with torch.no_grad():
            plain = psnr_db(F.mse_loss(vae.decode(held_out_latents), held_out))
            pasted = psnr_db(((vae.decode(pasted_held_out) - held_out) ** 2 * held_out_keep).sum() / (3 * held_out_keep.sum()))
        log(f"decoder {when}: held-out reconstruction {plain:.2f} dB, away from a pasted box {pasted:.2f} dB")

    report("before")
    deadline = time.time() + 60 * s.decoder_minutes
    step = 0
    data = batches(DECODER_STEPS, s.vae_batch // 4, 4, s)
    while time.time() < deadline:
        frames = next(data)["video"].to(device, non_blocking=True).flatten(0, 1)
        with torch.no_grad():
            latents = vae.encode_mean(frames)
        half = len(frames) // 2
        pasted, keep = paste_from_neighbours(latents[half:], s.size, generator, s)
        weight = torch.cat([torch.ones_like(frames[:half, :1]), keep])
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, s.decoder_lr, s.warmup)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            recon = vae.decode(torch.cat([latents[:half], pasted])).float()
        error = recon - frames
        loss = ((error**2 + 0.5 * error.abs()) * weight).sum() / (3 * weight.sum())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        if step % 500 == 0:
            log(f"decoder step {step} loss {loss.item():.5f}")
        step += 1
    vae.requires_grad_(False)
    log(f"decoder done: {step} steps")
    report("after")


def rad_step(unet: UNet3D, latent: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor, region: torch.Tensor, token: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One RAD update of each clip's latent, z - α ∂L/∂z with the reference's loss (Σ (1-fg)_+ + Σ bg,
    one object per clip): latent (e, C, f, h, w), region (e, f, g, g), token (e,), alpha (e,).
    Returns the moved latents and each clip's fg score before the move."""
    z = latent.detach().requires_grad_(True)
    with torch.enable_grad(), torch.autocast(z.device.type, dtype=torch.bfloat16, enabled=z.device.type == "cuda"):
        attention = unet.rad_attention(z, timestep, context).float()
        fg, bg = rad_scores(attention.flatten(2, 3), region.flatten(2)[:, None])
        word = (token - 1)[:, None, None]  # scores start at token 1
        fg, bg = fg.gather(2, word).flatten(), bg.gather(2, word).flatten()
        # Summed over clips: they are independent (no normalisation spans the batch).
        loss = (F.relu(1 - fg) + bg).sum()
        grad = torch.autograd.grad(loss * LOSS_SCALE, [z])[0] / LOSS_SCALE
    return (latent - alpha.view(-1, 1, 1, 1, 1) * grad.float()).detach(), fg.detach()


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
    edits = round(s.edit_fraction * s.unet_batch)
    data = batches(first, s.unet_batch, s.frames, s, tokenizer, cfg.attention_cell_px, edits)
    steps = cfg.scheduler.num_train_timesteps

    def encode(video):
        with torch.no_grad():
            latents = vae.encode_mean(video.flatten(0, 1)).float() * scale
            return latents.reshape(*video.shape[:2], *latents.shape[1:]).permute(0, 2, 1, 3, 4)  # (b, C, F, h, w)

    while time.time() < deadline:
        batch = {k: x.to(device, non_blocking=True) for k, x in next(data).items()}
        ids, coverage, selection = batch["ids"], batch["coverage"], batch["selection"]
        x0 = encode(batch["video"])
        b = x0.shape[0]
        drop = (torch.rand(b, device=device) < s.caption_dropout) & (torch.arange(b, device=device) >= edits)  # an edit needs its caption
        ids = torch.where(drop[:, None], empty[None, :], ids)
        selection = selection * ~drop[:, None, None]
        t = torch.randint(0, steps, (b,), device=device)
        t[:edits] = torch.randint(steps // 2, steps, (edits,), device=device)  # RAD acts on the first half of the schedule
        noise = torch.randn_like(x0)
        a = alphas[t].view(b, 1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        target = noise
        if edits:
            with torch.no_grad():
                context = text(ids[:edits])
            index = ((steps - 19 - t[:edits]) / (steps // 50)).round().clamp(0, 24)  # the 50-step schedule's i
            alpha = torch.tensor([step_size(int(i), 50) for i in index], device=device) * (1 + 2 * torch.rand(edits, device=device))
            source = a[:edits].sqrt() * encode(batch["source"]) + (1 - a[:edits]).sqrt() * noise[:edits]
            moved, fg = rad_step(unet, source, t[:edits].float(), context, batch["region"], batch["token"], alpha)
            # The prediction that denoises the moved source latent into the edited scene.
            edit_target = (moved - a[:edits].sqrt() * x0[:edits]) / (1 - a[:edits]).sqrt()
            xt = torch.cat([moved, xt[edits:]])
            target = torch.cat([edit_target, noise[edits:]])
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, s.unet_lr, s.warmup)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            prediction, maps = unet.forward_with_rad_attention(xt, t.float(), text(ids))
        denoising = F.mse_loss(prediction.float(), target)
        grounding = grounding_loss(maps.float(), coverage, selection)
        rad_grounding = rad_grounding_loss(maps.float(), batch["boxes"], selection)
        loss = denoising + s.grounding_weight * grounding + s.rad_grounding_weight * rad_grounding
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
            edit = f" edit loss {F.mse_loss(prediction[:edits].float(), target[:edits]).item():.4f} RAD fg {fg.mean().item():.3f}" if edits else ""
            log(f"unet step {step} loss {denoising.item():.4f} grounding {grounding.item():.3f} RAD grounding {rad_grounding.item():.3f}{edit} ({step / max(time.time() - started, 1e-6):.1f} steps/s)")
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
    if s.decoder_minutes > 0:
        train_decoder(vae, s, device, log)
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
