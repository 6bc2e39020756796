"""Oracle fixtures for a model package: fixed inputs and what the PyTorch oracle computes from them,
so the TypeScript engine can prove parity. Written only by `python -m reatco_models fixtures`;
regenerate, never hand-edit."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from .noise import irjs_stream, normal
from .oracle import EditObject, EditSettings, Oracle, StepTrace, union_mask
from .rad import rank_weights, step_size
from .tokenizer import ClipTokenizer


def synthetic_clip(frames: int, height: int, width: int) -> np.ndarray:
    """A deterministic test clip: a diagonal colour gradient with a disk and a square moving across."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for f in range(frames):
        img = np.stack([40 + 120 * x / width, 60 + 100 * y / height, 180 - 80 * (x + y) / (width + height)], axis=-1)
        cx, cy = width * (0.25 + 0.05 * f), height * 0.4
        img[(x - cx) ** 2 + (y - cy) ** 2 < (height * 0.15) ** 2] = (230, 210, 40)
        sx, sy = int(width * 0.6) - 2 * f, int(height * 0.55)
        img[sy : sy + height // 4, sx : sx + height // 4] = (150, 40, 170)
        out[f] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def box_mask(box: tuple[float, float, float, float], grid: tuple[int, int], cell_px: int) -> np.ndarray:
    """The reference's box rasterisation: coordinates / cell rounded half-to-even, slice set to 1."""
    h, w = grid
    x1, y1, x2, y2 = (min(max(round(v / cell_px), 0), lim) for v, lim in zip(box, (w, h, w, h)))
    mask = np.zeros((h, w), dtype=np.float32)
    mask[y1:y2, x1:x2] = 1
    return mask


def interpolate(keyframes: list[tuple[int, tuple[float, ...]]], frame: int) -> tuple[float, ...]:
    keyframes = sorted(keyframes)
    if frame <= keyframes[0][0]:
        return keyframes[0][1]
    if frame >= keyframes[-1][0]:
        return keyframes[-1][1]
    for (fa, ba), (fb, bb) in zip(keyframes, keyframes[1:]):
        if fa <= frame <= fb:
            t = (frame - fa) / (fb - fa)
            return tuple(a + (b - a) * t for a, b in zip(ba, bb))
    raise AssertionError("unreachable")


def write_oracle_fixtures(oracle: Oracle, tokenizer: ClipTokenizer, out_dir: Path, *, frames=6, height=128, width=160) -> dict:
    cfg = oracle.cfg
    torch.manual_seed(0)
    t: dict[str, np.ndarray] = {}
    meta: dict = {
        "generator": "python -m reatco_models fixtures",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "frames": frames,
        "height": height,
        "width": width,
        "knownDivergence": [],
    }
    source = synthetic_clip(frames, height, width)
    t["frames_source"] = source
    prompts = {
        "empty": "",
        "source": "a yellow circle and a purple square on a blue gradient background",
        "edit": "a red star and a green ring on a blue gradient background",
    }
    ids = {k: tokenizer.encode(v) for k, v in prompts.items()}
    for k, v in ids.items():
        t[f"ids_{k}"] = np.array(v, dtype=np.int64)
    emb = {k: oracle.text_embedding(v) for k, v in ids.items()}
    t["emb_empty"], t["emb_edit"] = emb["empty"].numpy(), emb["edit"].numpy()
    words = ["star", "ring"]
    token_indices = [tokenizer.find_word_tokens(prompts["edit"], w).index for w in words]
    # Object 1 stays put; object 2 moves: keyframes at frames 0 and frames-1, interpolated between.
    tracks = [
        [(0, (16.0, 24.0, 72.0, 88.0))],
        [(0, (88.0, 40.0, 152.0, 104.0)), (frames - 1, (70.0, 20.0, 134.0, 84.0))],
    ]
    lat, att = cfg.vae.scale_factor, cfg.attention_cell_px
    objects, boxes = [], []
    for token, track in zip(token_indices, tracks):
        per_frame = [interpolate(track, f) for f in range(frames)]
        boxes.append(per_frame)
        objects.append(
            EditObject(
                token,
                torch.from_numpy(np.stack([box_mask(b, (height // att, width // att), att) for b in per_frame])),
                torch.from_numpy(np.stack([box_mask(b, (height // lat, width // lat), lat) for b in per_frame])),
            )
        )
    meta.update(prompts=prompts, words=words, token_indices=token_indices, box_keyframes=tracks)
    t["boxes"] = np.array(boxes, dtype=np.float32)  # (K, F, 4) per-frame boxes in working pixels
    t["attention_masks"] = np.stack([o.attention_masks.numpy() for o in objects])
    t["latent_masks"] = np.stack([o.latent_masks.numpy() for o in objects])

    # Portable RNG: the engine must draw the same values.
    t["rng_normal_seed1234_stream7"] = normal(1234, 7, 4099)

    # Single graphs on fixed inputs.
    z0 = oracle.encode(source)
    t["z0"] = z0.numpy()
    t["decoded_z0"] = oracle.decode(z0)
    # The ε input is drawn from the portable generator (seed 99, stream 0), so it needs no storage.
    eps_sample = torch.from_numpy(normal(99, 0, 2 * z0.numel()).reshape(2, *z0.shape[1:]))
    eps_context = torch.cat([emb["empty"], emb["edit"]])
    t["eps_output"] = oracle.eps(eps_sample, 501, eps_context).numpy()
    meta["eps_timestep"] = 501

    # Inversion trajectory.
    settings = EditSettings(steps=5, inversion_steps=5, max_refinement_iterations=3, seed=7)
    trajectory = oracle.invert(z0, emb["empty"], settings.inversion_steps)
    t["inversion"] = torch.stack(trajectory).numpy()
    z_t = trajectory[-1]
    first_t = oracle.scheduler.timesteps(settings.steps)[0]
    meta["edit_timesteps"] = oracle.scheduler.timesteps(settings.steps)
    meta["inversion_timesteps"] = list(reversed(oracle.scheduler.timesteps(settings.inversion_steps)))

    # One RAD pass (main and refinement weights) on the inverted latent, and one RAD update.
    for name, weights in (("main", (1, 1, 0)), ("refine", (0, 0, 1))):
        grad, loss, fg, bg = oracle.rad_pass(z_t, first_t, emb["edit"], objects, (0, frames), weights)
        t[f"rad_{name}_grad"], t[f"rad_{name}_loss"] = grad.numpy(), loss.reshape(1).numpy()
        t[f"rad_{name}_fg"], t[f"rad_{name}_bg"] = fg.numpy(), bg.numpy()
    masks = torch.from_numpy(t["attention_masks"])
    rw_fg, rw_bg = rank_weights(masks.reshape(masks.shape[0], frames, -1))
    t["rank_weights_fg"], t["rank_weights_bg"] = rw_fg.numpy(), rw_bg.numpy()
    alpha0 = step_size(0, settings.steps)
    meta["rad_step_size_0"] = alpha0
    t["rad_updated"] = (z_t - alpha0 * torch.from_numpy(t["rad_main_grad"])).numpy()

    # One IRJS blend at the first step.
    noise = torch.from_numpy(normal(settings.seed, irjs_stream(0), z0.numel()).reshape(z0.shape))
    mask = union_mask(objects)[None, None]
    updated = torch.from_numpy(t["rad_updated"])
    t["irjs_noise_step0"], t["irjs_mask"] = noise.numpy(), mask[0, 0].numpy()
    t["irjs_blended"] = (mask * updated + (1 - mask) * oracle.scheduler.add_noise(z0, noise, first_t)).numpy()

    # Short full edits: whole clip at once, and 4-frame windows with stride 2.
    runs = {"full": settings, "windowed": EditSettings(**{**asdict(settings), "window": 4, "stride": 2})}
    meta["runs"] = {}
    for name, run in runs.items():
        trace: list[StepTrace] = []
        edited = oracle.edit(z0, z_t, emb["empty"], emb["edit"], objects, run, trace)
        t[f"edit_{name}_latent"] = edited.numpy()
        t[f"edit_{name}_frames"] = oracle.decode(edited)
        meta["runs"][name] = {"settings": asdict(run), "trace": [asdict(s) for s in trace]}

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v) for k, v in t.items()}, str(out_dir / "fixtures.safetensors"))
    meta["tensors"] = {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in t.items()}
    (out_dir / "fixtures.safetensors").chmod(0o644)
    (out_dir / "fixtures.json").write_text(json.dumps(meta, indent=1) + "\n")
    return meta
