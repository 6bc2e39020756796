"""The embedded model package (models/shapes-v4) from trained weights: the export, the demo clip and
the benchmark cases of the spatial-control benchmark.

Benchmark cases come from the world with seeds of their own stream (training draws from another), so
no case was seen in training. Each case is a source clip, an edited prompt that replaces or adds
objects, and one region track per new object: static (the object's box at the first frame) or
moving (keyframed on the path the source object takes, or a straight path for added objects).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

from .world import COLORS, Scene, WorldObject, caption_for, new_look, random_scene, render_clip

BENCHMARK_STREAM = 7
DEMO_FIRST_CASE = 1000  # demo candidates come after the benchmark's cases in its stream


def _frames_hwc(clip: torch.Tensor) -> np.ndarray:
    """(F, 3, H, W) floats -> contiguous (F, H, W, 3) bytes (safetensors writes the buffer as it is)."""
    return np.ascontiguousarray(clip.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy())


def _box(obj: WorldObject, frame: int, size: int, margin: float = 1.25) -> list[float]:
    """A region around the object, a little larger than it (the model draws objects at its own size)."""
    x1, y1, x2, y2 = obj.box(frame, size, margin)
    return [max(0.0, x1), max(0.0, y1), min(float(size), x2), min(float(size), y2)]


def benchmark_case(index: int, frames: int, size: int) -> dict:
    """Case `index`: even indices replace an object, odd ones add one in an empty region; the track
    is static for index % 4 in (0, 1) and moving otherwise."""
    generator = torch.Generator().manual_seed(BENCHMARK_STREAM * 2**40 + index)
    moving = index % 4 >= 2
    while True:
        scene = random_scene(generator, size, max_objects=2, moving=moving)
        path_ok = all(obj.box(0, size)[0] >= 0 for obj in scene.objects)
        if path_ok:
            break
    if index % 2 == 0:  # replace the first object, in a region that follows it
        target = scene.objects[0]
        color, shape = new_look(scene, generator, target.color)
        phrases = [f"{color} {shape}"] + [o.phrase for o in scene.objects[1:]]
        track = [{"frame": f, "box": _box(target, f, size)} for f in ((0,) if not moving else (0, frames - 1))]
        kind = "replace"
    else:  # add an object in an empty area, keeping the others
        color, shape = new_look(scene, generator, "")
        radius = 0.16 * size
        others = [o.centre(0, size) for o in scene.objects]
        candidates = [(x, y) for x in (0.25 * size, 0.75 * size) for y in (0.25 * size, 0.75 * size)]
        start = max(candidates, key=lambda c: min((c[0] - ox) ** 2 + (c[1] - oy) ** 2 for ox, oy in others))
        velocity = (1.2 if start[0] < size / 2 else -1.2, 0.0) if moving else (0.0, 0.0)
        ghost = WorldObject(shape, color, radius, start, velocity)
        phrases = [o.phrase for o in scene.objects] + [f"{color} {shape}"]
        track = [{"frame": f, "box": _box(ghost, f, size, 1.1)} for f in ((0,) if not moving else (0, frames - 1))]
        kind = "add"
    return {
        "index": index,
        "kind": kind,
        "moving": moving,
        "scene": scene,
        "source_prompt": scene.caption,
        "prompt": caption_for(phrases, scene.background, scene.texture),
        "target": {"color": color, "rgb": list(COLORS[color]), "shape": shape, "word": shape},
        "keyframes": track,
    }


def write_benchmark(out: Path, cases: int, frames: int, size: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    clips = {}
    described = []
    for index in range(cases):
        case = benchmark_case(index, frames, size)
        clips[f"case_{index:02d}"] = _frames_hwc(render_clip(case["scene"], frames, size))
        scene: Scene = case.pop("scene")
        case["background"] = {"color": scene.background, "texture": scene.texture}
        # The source objects, so the scorer can be checked against the renderer's ground truth.
        case["source_objects"] = [
            {"color": o.color, "rgb": list(COLORS[o.color]), "shape": o.shape, "boxes": [list(o.box(f, size)) for f in range(frames)]}
            for o in scene.objects
        ]
        case["clip"] = f"case-{index:02d}.mov"
        described.append(case)
    save_file(clips, str(out / "cases.safetensors"))
    (out / "cases.json").write_text(json.dumps({"frames": frames, "size": size, "stream": BENCHMARK_STREAM, "cases": described}, indent=1) + "\n")


def _overlap(a: list[float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def demo_case(frames: int, size: int) -> dict:
    index = DEMO_FIRST_CASE + 2  # moving-track replace cases are the indices 2 mod 4
    while True:
        case = benchmark_case(index, frames, size)
        target, *others = case["scene"].objects
        clear = all(not _overlap(_box(target, f, size), o.box(f, size)) for f in range(frames) for o in others)
        if others and clear:
            return case
        index += 4


def write_demo(out: Path, frames: int, size: int) -> None:
    """The demo: a replace edit with a moving region in a two-object scene (the first such case of the
    benchmark's stream after its cases whose region keeps clear of the other object, so the edit
    reads at a glance)."""
    case = demo_case(frames, size)
    out.mkdir(parents=True, exist_ok=True)
    save_file({"frames": _frames_hwc(render_clip(case["scene"], frames, size))}, str(out / "frames.safetensors"))
    demo = {
        "clip": "clip.mp4",
        "sourcePrompt": case["source_prompt"],
        "prompt": case["prompt"],
        "objects": [{"word": case["target"]["word"], "keyframes": case["keyframes"]}],
        "quality": "standard",
    }
    (out / "demo.json").write_text(json.dumps(demo, indent=1) + "\n")


def load_trained(weights_dir: Path):
    """The modules and config of a training run's output folder."""
    from safetensors.torch import load_file

    from .clip_text import CLIPTextModel
    from .config import shapes_config
    from .tokenizer import ClipTokenizer
    from .unet3d import UNet3D
    from .vae import AutoencoderKL

    meta = json.loads((weights_dir / "training.json").read_text())
    tokenizer = ClipTokenizer.from_dir(weights_dir / "tokenizer")
    cfg = shapes_config(len(tokenizer.vocab))
    cfg = dataclasses.replace(cfg, vae=dataclasses.replace(cfg.vae, scaling_factor=meta["scaling_factor"]))
    weights = load_file(str(weights_dir / "weights.safetensors"))
    unet, vae, text = UNet3D(cfg.unet), AutoencoderKL(cfg.vae), CLIPTextModel(cfg.text)
    for prefix, module in (("unet.", unet), ("vae.", vae), ("text.", text)):
        module.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})
    return cfg, unet.eval(), vae.eval(), text.eval(), weights_dir / "tokenizer", meta
