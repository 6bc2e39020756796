"""Building model packages: graphs exported in parallel processes (each rebuilds the modules from
a picklable ModelSource), then assembled; and the committed tiny-random test package."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import nullcontext
from multiprocessing import get_context
from pathlib import Path

from .build import TINY_CAPTIONS, ModelSource, build_models
from .export import COMPONENTS, CUDA_COMPONENTS, assemble_package, export_component, prepare


def _export_job(source: ModelSource, precision: str, component: str, parts_dir: str, example_size, dynamic_size: bool = True) -> str:
    """Exports one component into parts_dir/<component>/, which appears only once the graph is complete
    (an interrupted export leaves a .partial folder that the next run redoes)."""
    done = Path(parts_dir) / component
    if done.is_dir():
        print(f"  {component}: kept from an earlier run", flush=True)
        return str(next(done.glob("*.onnx")))
    import torch

    torch.set_num_threads(2)
    cfg, unet, vae, text, _ = build_models(source)
    prepare((unet, vae, text), precision)
    started = time.time()
    partial = Path(parts_dir) / f"{component}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    path = export_component(component, cfg, unet, vae, text, partial, example_size, dynamic_size)
    partial.rename(done)
    print(f"  {component}: {time.time() - started:.0f} s", flush=True)
    return str(done / path.name)


def export_package(
    source: ModelSource, out: Path, name: str, precision: str, jobs: int, example_size, extra=None, dynamic_size: bool = True, parts: Path | None = None, cuda_graphs: bool = False
) -> dict:
    """`parts` keeps finished graphs between runs, so an export cut short (the GPU machine ends every
    command after 10 minutes) resumes with the graphs still missing. `cuda_graphs` adds CUDA_COMPONENTS."""
    components = COMPONENTS + CUDA_COMPONENTS if cuda_graphs else COMPONENTS
    cfg, *_, tokenizer_dir = build_models(source)
    started = time.time()
    with nullcontext(str(parts)) if parts else tempfile.TemporaryDirectory() as tmp:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = {c: pool.submit(_export_job, source, precision, c, tmp, example_size, dynamic_size) for c in components}
            graphs = {c: Path(f.result()) for c, f in futures.items()}
        manifest = assemble_package(cfg, graphs, tokenizer_dir, out, name, precision, extra)
    print(f"exported {name} ({precision}) to {out} in {time.time() - started:.0f} s")
    return manifest


def build_tiny_random(out: Path, jobs: int, skip_export: bool = False) -> None:
    from .bpe_train import train_clip_bpe, write_clip_bpe
    from .fixtures import write_oracle_fixtures
    from .oracle import Oracle
    from .tokenizer import ClipTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        vocab, merges = train_clip_bpe(TINY_CAPTIONS, 300)
        write_clip_bpe(tmp, vocab, merges)
        source = ModelSource("random", preset="tiny", seed=20241211, temporal_attention=True, tokenizer_dir=tmp)
        extra = {
            "description": "Random weights from a fixed seed: produces noise. For tests and parity fixtures only.",
            "source": {"kind": "random", "preset": "tiny", "seed": source.seed, "temporal_attention": True},
            "defaults": {"frame_size": [128, 160], "guidance_scale": 12.5},
        }
        if skip_export:
            for name in ("vocab.json", "merges.txt"):  # the package must hold this very vocabulary
                if (Path(tmp) / name).read_bytes() != (out / "tokenizer" / name).read_bytes():
                    raise SystemExit(f"{out} was built from another vocabulary; export it again")
        else:
            export_package(source, out, "tiny-random", "fp32", jobs, (3, 128, 160), extra)
        cfg, unet, vae, text, _ = build_models(source)
        meta = write_oracle_fixtures(Oracle(cfg, unet, vae, text), ClipTokenizer.from_dir(tmp), out / "fixtures")
        print(json.dumps({k: meta[k] for k in ("prompts", "token_indices")}))


def build_shapes(weights: Path, out: Path, jobs: int, skip_export: bool = False, name: str | None = None) -> None:
    """A trained model's package (named after its folder unless `name` is given) and its demo
    (frames to encode with models/scripts/encode-frames.js)."""
    from .shapes import load_trained, write_demo

    *_, meta = load_trained(weights)
    size = meta["settings"]["size"]
    frames = meta["settings"]["frames"]
    if not skip_export:
        extra = {
            "description": "Trained on the synthetic shapes world (coloured shapes moving over textured backgrounds); the embedded default model.",
            "source": {"kind": "trained", "training": {k: meta.get(k) for k in ("stream_position", "minutes", "scaling_factor", "settings")}},
            "defaults": {"frame_size": [size, size], "guidance_scale": 12.5},
        }
        export_package(ModelSource("trained", checkpoint=str(weights)), out, name or out.name, "fp32", jobs, (3, 128, 160), extra)
    write_demo(out / "demo", frames, size)
    print(f"now encode the demo clip: node models/scripts/encode-frames.js {out}")
