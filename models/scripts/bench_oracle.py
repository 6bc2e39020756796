"""PyTorch baselines for the GPU speed comparison (a script that prints figures, not a test).

  (a) reference: the oracle paying the reference code's costs: 4-frame windows with stride 1, a
      whole-UNet gradient forward at every step, the discarded passes of refinement;
  (b) clean: the oracle doing exactly the engine's work (fp16, fused attention where probabilities
      are not needed, full clip or the same windows).

Also counts the FLOPs of one ε call and one RAD pass and measures the GPU's fp16 matrix rate, for
the floor (passes x FLOPs / rate). Same random SD-1.x-size weights as `python -m reatco_models random`.

  python models/scripts/bench_oracle.py --tokenizer DIR --mode clean|reference [--frames 16] [--out f.json]
         [--case DIR]

--case redoes the engine's edit that `reatco bench --save-case DIR` wrote (its frames, prompt, regions
and settings) and compares the two results.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reatco_models.build import ModelSource, build_models  # noqa: E402
from reatco_models.fixtures import box_mask  # noqa: E402
from reatco_models.oracle import EditObject, EditSettings, Oracle, windows  # noqa: E402
from reatco_models.rad import rad_gradient, rank_weights  # noqa: E402
from reatco_models.tokenizer import ClipTokenizer  # noqa: E402

BOXES = [(67, 240, 271, 353), (410, 150, 590, 343)]


def synthetic_frames(frames: int, height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([np.stack([(x + 3 * f) % 256, y % 256, np.full_like(x, 128)], -1) for f in range(frames)]).astype(np.uint8)


def matmul_tflops(device: str) -> float:
    a = torch.randn(8192, 8192, device=device, dtype=torch.float16)
    b = torch.randn(8192, 8192, device=device, dtype=torch.float16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    torch.cuda.synchronize()
    return 10 * 2 * 8192**3 / (time.perf_counter() - start) / 1e12


def count_flops(fn) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def compare_frames(engine: np.ndarray, oracle: np.ndarray) -> dict:
    """How far the engine's edited frames are from the oracle's (uint8 RGB)."""
    diff = engine.astype(np.float64) - oracle.astype(np.float64)
    mse = float((diff**2).mean())
    return {
        "psnr_db": float("inf") if mse == 0 else 10 * np.log10(255**2 / mse),
        "mean_abs": float(np.abs(diff).mean()),
        "max_abs": float(np.abs(diff).max()),
        "pixels_off_by_more_than_8": float((np.abs(diff).max(-1) > 8).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--mode", choices=["clean", "reference"], required=True)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--height", type=int, default=448)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--window", type=int, default=None, help="clean mode: same windows as the engine run")
    parser.add_argument("--stride", type=int, default=1)
    parser.add_argument("--max-refinement", type=int, default=20)
    parser.add_argument("--preset", default="sd15")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--case", type=Path, help="the engine's edit to redo and compare (reatco bench --save-case)")
    args = parser.parse_args()
    case = json.loads((args.case / "case.json").read_text()) if args.case else None
    if case:
        args.frames, args.height, args.width = case["frames"], case["size"]["height"], case["size"]["width"]
        args.steps, args.window, args.stride = case["settings"]["steps"], case["settings"]["window"], case["settings"]["stride"]
        args.max_refinement = case["settings"]["maxRefinementIterations"]

    dev = args.device
    cfg, unet, vae, text, _ = build_models(ModelSource("random", preset=args.preset, tokenizer_dir=args.tokenizer))
    dtype = torch.float16 if dev == "cuda" else torch.float32
    for module in (unet, vae, text):
        module.eval().requires_grad_(False).to(dev, dtype)
    oracle = Oracle(cfg, unet, vae, text)
    f, lat, att = args.frames, cfg.vae.scale_factor, cfg.attention_cell_px
    scale = (args.width / 768, args.height / 448)
    boxes = [(x1 * scale[0], y1 * scale[1], x2 * scale[0], y2 * scale[1]) for x1, y1, x2, y2 in BOXES]
    tokens = [2, 5]
    if case:
        tokens = [o["tokenIndex"] for o in case["objects"]]
        boxes = [o["region"]["keyframes"][0]["box"] for o in case["objects"]]
    objects = [
        EditObject(
            token,
            torch.from_numpy(np.stack([box_mask(b, (args.height // att, args.width // att), att)] * f)),
            torch.from_numpy(np.stack([box_mask(b, (args.height // lat, args.width // lat), lat)] * f)),
        )
        for token, b in zip(tokens, boxes)
    ]
    reference = args.mode == "reference"
    settings = EditSettings(
        steps=args.steps,
        inversion_steps=args.steps,
        max_refinement_iterations=args.max_refinement,
        window=4 if reference else args.window,
        stride=1 if reference else args.stride,
        reference_costs=reference,
    )
    if case:
        frames = np.fromfile(args.case / "source.rgb", dtype=np.uint8).reshape(f, args.height, args.width, 3)
    else:
        frames = synthetic_frames(f, args.height, args.width)
    tokenizer = ClipTokenizer.from_dir(args.tokenizer)
    ids = tokenizer.encode("")
    report: dict = {"mode": args.mode, "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__, "frames": f, "size": [args.height, args.width], "settings": {k: v for k, v in settings.__dict__.items()}}

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    # Warm-up as the engine's (reatco bench): the edit's own shapes, every graph twice (4 steps give RAD
    # two passes), then the timed edit.
    warm, blank = oracle.encode(frames), oracle.text_embedding(ids)
    oracle.invert(warm, blank, 2)
    oracle.edit(warm, warm, blank, blank, objects, replace(settings, steps=4, inversion_steps=2, max_refinement_iterations=0))
    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    stages = {}
    sync()
    t0 = time.perf_counter()
    empty = oracle.text_embedding(ids)
    cond = oracle.text_embedding(tokenizer.encode(case["prompt"])) if case else empty
    z0 = oracle.encode(frames)
    sync()
    stages["encode_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    z_t = oracle.invert(z0, empty, settings.inversion_steps)[-1]
    sync()
    stages["invert_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    trace: list = []
    edited = oracle.edit(z0, z_t, empty, cond, objects, settings, trace)
    sync()
    stages["edit_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = oracle.decode(edited)
    sync()
    stages["decode_s"] = time.perf_counter() - t0
    if case:
        report["parity"] = compare_frames(np.fromfile(args.case / "edited.rgb", dtype=np.uint8).reshape(result.shape), result)
    views = windows(f, settings.window, settings.stride)
    report.update(stages)
    report["total_s"] = sum(stages.values())
    report["windows"] = len(views)
    report["rad_passes"] = sum(s.rad_passes for s in trace)
    report["refinement_iterations"] = sum(s.refinement_iterations for s in trace)
    report["eps_calls"] = settings.steps * len(views) + settings.inversion_steps
    if dev == "cuda":
        report["peak_gb"] = torch.cuda.max_memory_allocated() / 2**30

    # Floor: FLOPs of the passes the clean method needs, over the measured matrix rate.
    if dev == "cuda":
        fw = views[0][1] - views[0][0]
        h, w = args.height // lat, args.width // lat
        x = torch.randn(1, 4, fw, h, w, device=dev)
        t = torch.tensor([501.0], device=dev)
        masks = torch.stack([o.attention_masks[:fw] for o in objects]).float().to(dev)
        rw = [r.to(dev) for r in rank_weights(masks.reshape(2, fw, -1).cpu())]
        one = torch.ones(2, device=dev)
        with torch.no_grad():
            eps_flops = count_flops(lambda: oracle.eps(torch.cat([x, x]), 501, torch.cat([empty, empty])))
            inv_flops = count_flops(lambda: oracle.eps(torch.randn(1, 4, f, h, w, device=dev), 501, empty))
        rad_flops = count_flops(lambda: rad_gradient(unet, x, t, empty, masks, torch.tensor([2, 5], device=dev), *rw, one, one, 0 * one))
        rate = matmul_tflops(dev)
        clean_rad = report["rad_passes"] if not reference else None
        report["floor"] = {
            "eps_call_gflops": eps_flops / 1e9,
            "inversion_call_gflops": inv_flops / 1e9,
            "rad_pass_gflops": rad_flops / 1e9,
            "fp16_matmul_tflops": rate,
            "note": "floor = inversion calls x inversion FLOPs + ε calls x ε FLOPs + RAD passes x RAD FLOPs, over the matmul rate",
        }
        if clean_rad is not None:
            total = settings.inversion_steps * inv_flops + settings.steps * len(views) * eps_flops + clean_rad * rad_flops
            report["floor"]["floor_s"] = total / (rate * 1e12)
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
