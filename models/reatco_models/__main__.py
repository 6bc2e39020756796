"""python -m reatco_models <command>: export a checkpoint, build random-weight packages, write fixtures.

  export --checkpoint SD_FOLDER [--tuned-unet TAV_UNET] --out DIR [--precision fp16|fp32] [--jobs N] [--cuda-graphs]
  random --preset sd15|tiny --tokenizer DIR --out DIR [--precision ...] [--seed N] [--temporal] [--cuda-graphs]
  tiny-random --out models/tiny-random        (the committed test package and its oracle fixtures)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .build import ModelSource
from .package import build_shapes, build_tiny_random, export_package


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reatco_models", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--out", type=Path, required=True)
    common.add_argument("--precision", choices=["fp32", "fp16"], default="fp32", help="fp16 for GPU, fp32 for CPU")
    common.add_argument("--jobs", type=int, default=5, help="graphs exported in parallel processes")
    common.add_argument("--name")
    common.add_argument("--parts", type=Path, help="keep finished graphs here; a later run with the same folder exports only the missing ones")
    exported = argparse.ArgumentParser(add_help=False, parents=[common])
    exported.add_argument("--cuda-graphs", action="store_true", help="also export unet_cuda (the ε UNet with ONNX Runtime's fused GroupNorm, used on CUDA) and unet_rad_cuda (the RAD graph with reatco's fused operators)")
    p = sub.add_parser("export", parents=[exported], help="export a diffusers SD-1.x folder (optionally with a Tune-A-Video UNet)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--tuned-unet")
    p = sub.add_parser("random", parents=[exported], help="a package with random weights (benchmarks without a checkpoint)")
    p.add_argument("--preset", choices=["sd15", "tiny"], default="sd15")
    p.add_argument("--tokenizer", required=True, help="folder with vocab.json and merges.txt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--temporal", action="store_true", help="include Tune-A-Video temporal attention")
    p.add_argument("--static-size", action="store_true", help="fix the RAD graph's frame size to 448x768 (needed with torch 2.11)")
    p = sub.add_parser("tiny-random", help="build models/tiny-random and its oracle fixtures")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--skip-export", action="store_true", help="only rewrite the fixtures of an existing package")
    p = sub.add_parser("train", help="train the embedded model on the synthetic shapes world (GPU)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--vae-minutes", type=float, default=3.0)
    p.add_argument("--unet-minutes", type=float, default=9.0)
    p.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE", help="override a TrainSettings field, e.g. unet_lr=1.5e-4 (repeatable)")
    p.add_argument("--decoder-minutes", type=float, default=0.0, help="fine-tune the VAE decoder alone (encoder frozen) after the VAE phase")
    p.add_argument("--device")
    p.add_argument("--init", type=Path, help="resume from the weights of an earlier run")
    p = sub.add_parser("shapes", help="package a trained shapes model with its demo")
    p.add_argument("--weights", type=Path, required=True, help="a `train` output folder")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--skip-export", action="store_true", help="only rewrite the demo")
    p.add_argument("--name", help="the package's name (the output folder's name when not given)")
    p = sub.add_parser("shapes-benchmark", help="the spatial-control benchmark's cases (model-independent)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cases", type=int, default=24)
    args = parser.parse_args(argv)

    if args.command == "export":
        source = ModelSource("checkpoint", checkpoint=args.checkpoint, tuned_unet=args.tuned_unet)
        export_package(source, args.out, args.name or Path(args.checkpoint).name, args.precision, args.jobs, (3, 448, 768), parts=args.parts, cuda_graphs=args.cuda_graphs)
    elif args.command == "random":
        source = ModelSource("random", preset=args.preset, seed=args.seed, temporal_attention=args.temporal, tokenizer_dir=args.tokenizer)
        size = (3, 448, 768) if args.preset == "sd15" else (3, 128, 160)
        export_package(source, args.out, args.name or f"random-{args.preset}", args.precision, args.jobs, size, dynamic_size=not args.static_size, parts=args.parts, cuda_graphs=args.cuda_graphs)
    elif args.command == "train":
        from .train import TrainSettings, train

        settings = TrainSettings(vae_minutes=args.vae_minutes, decoder_minutes=args.decoder_minutes, unet_minutes=args.unet_minutes).with_overrides(args.setting)
        train(args.out, settings, args.device, lambda line: print(line, flush=True), args.init)
    elif args.command == "shapes":
        build_shapes(args.weights, args.out, args.jobs, args.skip_export, args.name)
    elif args.command == "shapes-benchmark":
        from .shapes import write_benchmark

        write_benchmark(args.out, args.cases, frames=8, size=128)
        print(f"now encode the clips: node models/scripts/encode-frames.js {args.out}")
    elif args.command == "tiny-random":
        build_tiny_random(args.out, args.jobs, args.skip_export)
    return 0


if __name__ == "__main__":
    sys.exit(main())
