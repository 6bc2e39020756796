"""PyTorch side of the single-graph GPU check: ε (batch 2) and the RAD gradient of a package's model,
rebuilt from the same source and seed as its export, on fixed inputs drawn from the portable
generator (so helper-service/src/bench/graph-check.ts draws the very same tensors). Writes the outputs
as raw float32 and the timings and peak memory as JSON.

  python models/scripts/gpu_reference.py --preset sd15 --tokenizer DIR --precision fp16 --out DIR
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reatco_models.build import ModelSource, build_models  # noqa: E402
from reatco_models.fixtures import box_mask  # noqa: E402
from reatco_models.noise import normal  # noqa: E402
from reatco_models.rad import rad_gradient, rank_weights  # noqa: E402

# The reference's hare boxes in a 768x448 frame, scaled to the working size; token positions 2 and 5.
BOXES = [(67, 240, 271, 353), (410, 150, 590, 343)]
TOKENS = [2, 5]


def timed(fn, runs: int, device: str) -> tuple[object, list[float]]:
    times = []
    result = None
    for _ in range(runs):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000)
    return result, times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="sd15")
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", choices=["fp16", "fp32"], default="fp16")
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--height", type=int, default=448)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--time-frames", type=int, help="also time ε (batch 2 and 1) and RAD at this many frames")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    cfg, unet, _, _, _ = build_models(ModelSource("random", preset=args.preset, seed=args.seed, tokenizer_dir=args.tokenizer))
    dtype = torch.float16 if args.precision == "fp16" else torch.float32
    unet = unet.eval().requires_grad_(False).to(args.device, dtype)
    lat, att = cfg.vae.scale_factor, cfg.attention_cell_px
    h, w = args.height // lat, args.width // lat
    d = cfg.text.hidden_size
    dev = args.device
    context = torch.from_numpy(normal(98, 0, 2 * 77 * d).reshape(2, 77, d)).to(dev)
    timestep = torch.tensor([501.0], device=dev)

    def eps_sample(batch: int, f: int) -> torch.Tensor:
        return torch.from_numpy(normal(99, 0, batch * 4 * f * h * w).reshape(batch, 4, f, h, w)).to(dev)

    def rad_inputs(f: int) -> tuple:
        latent = torch.from_numpy(normal(97, 0, 4 * f * h * w).reshape(1, 4, f, h, w)).to(dev)
        scale = (args.width / 768, args.height / 448)
        boxes = [(x1 * scale[0], y1 * scale[1], x2 * scale[0], y2 * scale[1]) for x1, y1, x2, y2 in BOXES]
        masks = torch.from_numpy(np.stack([np.stack([box_mask(b, (args.height // att, args.width // att), att)] * f) for b in boxes]))
        rw_fg, rw_bg = rank_weights(masks.reshape(len(boxes), f, -1))
        ones = torch.ones(len(boxes), device=dev)
        return (latent, timestep, context[1:2], masks.to(dev), torch.tensor(TOKENS, device=dev), rw_fg.to(dev), rw_bg.to(dev), ones, ones, torch.zeros_like(ones))

    f = args.frames
    sample, rad_args = eps_sample(2, f), rad_inputs(f)
    report: dict = {"device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__, "precision": args.precision, "frames": f, "size": [args.height, args.width]}

    def eps():
        with torch.no_grad():
            return unet(sample.to(dtype), timestep, context.to(dtype)).float()

    def rad():
        return rad_gradient(unet, *rad_args)

    for name, fn in (("eps", eps), ("rad", rad)):
        if dev == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        result, warm = timed(fn, 2, dev)
        result, times = timed(fn, args.runs, dev)
        report[name] = {"first_ms": warm[0], "median_ms": float(np.median(times)), "runs": args.runs}
        if dev == "cuda":
            report[name]["peak_gb"] = torch.cuda.max_memory_allocated() / 2**30
        out = result if name == "eps" else result[0]
        args.out.mkdir(parents=True, exist_ok=True)
        out.detach().float().cpu().numpy().astype("<f4").tofile(args.out / f"{name}.bin")
        if name == "rad":
            report[name].update(loss=float(result[1]), fg=result[2].tolist(), bg=result[3].tolist())
    if args.time_frames:
        # The edit's own sizes, timed only: one CFG step, one inversion step, one RAD pass.
        n = args.time_frames
        cfg_sample, inversion_sample, rad_at_n = eps_sample(2, n).to(dtype), eps_sample(1, n).to(dtype), rad_inputs(n)
        calls = {
            "eps_batch2": lambda: unet(cfg_sample, timestep, context.to(dtype)),
            "eps_batch1": lambda: unet(inversion_sample, timestep, context[:1].to(dtype)),
            "rad": lambda: rad_gradient(unet, *rad_at_n),
        }
        report[f"at_{n}_frames"] = {}
        for name, fn in calls.items():
            with torch.no_grad() if name != "rad" else contextlib.nullcontext():
                _, warm = timed(fn, 2, dev)
                _, times = timed(fn, args.runs, dev)
            report[f"at_{n}_frames"][name] = {"first_ms": warm[0], "median_ms": float(np.median(times))}
    (args.out / "reference.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
