"""A synthetic video world the embedded model learns in minutes, and the benchmark scores edits in:
textured backgrounds in one colour (gradient, striped, checkered, cloudy) with one to three objects
(circle, square, triangle, star, ring in eight colours and several sizes) moving smoothly, and a
caption that names them: "a red circle and a blue square on a green striped background".

Everything is a pure function of a seed; rendering is vectorised torch (GPU for training). Shapes
are signed-distance fields with a one-pixel antialiased edge; backgrounds are smooth, so a 4x VAE can
reproduce them closely.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 45, 45),
    "green": (45, 170, 70),
    "blue": (45, 85, 215),
    "yellow": (235, 210, 45),
    "purple": (150, 55, 185),
    "orange": (240, 140, 35),
    "white": (240, 240, 240),
    "black": (30, 30, 30),
}
SHAPES = ("circle", "square", "triangle", "star", "ring")
TEXTURES = ("gradient", "striped", "checkered", "cloudy")
BACKGROUND_COLORS = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black")
MAX_OBJECTS = 3


@dataclass(frozen=True)
class WorldObject:
    shape: str
    color: str
    radius: float  # pixels
    start: tuple[float, float]  # centre (x, y) at frame 0, pixels
    velocity: tuple[float, float]  # pixels per frame

    def centre(self, frame: int, size: int) -> tuple[float, float]:
        """Linear motion that bounces off the frame edges (kept a radius inside)."""
        return tuple(_bounce(s + v * frame, self.radius, size - self.radius) for s, v in zip(self.start, self.velocity))  # type: ignore[return-value]

    def box(self, frame: int, size: int, margin: float = 1.0) -> tuple[float, float, float, float]:
        """The object's bounding box, grown by `margin` about its centre."""
        x, y = self.centre(frame, size)
        r = self.radius * margin
        return (x - r, y - r, x + r, y + r)

    @property
    def phrase(self) -> str:
        return f"{self.color} {self.shape}"


@dataclass(frozen=True)
class Scene:
    texture: str
    background: str
    angle: float  # texture direction, radians
    period: float  # texture period, pixels
    objects: tuple[WorldObject, ...] = field(default_factory=tuple)

    @property
    def caption(self) -> str:
        return caption_for([o.phrase for o in self.objects], self.background, self.texture)


def _article(words: str) -> str:
    return f"an {words}" if words[0] in "aeiou" else f"a {words}"


def caption_for(phrases: list[str], background: str, texture: str) -> str:
    names = [_article(p) for p in phrases]
    if len(names) > 2:
        listed = ", ".join(names[:-1]) + " and " + names[-1]
    else:
        listed = " and ".join(names)
    return f"{listed} on {_article(background)} {texture} background"


def _bounce(value: float, low: float, high: float) -> float:
    span = high - low
    if span <= 0:
        return (low + high) / 2
    phase = (value - low) % (2 * span)
    return low + (phase if phase <= span else 2 * span - phase)


def random_scene(generator: torch.Generator, size: int, max_objects: int = MAX_OBJECTS, moving: bool = True) -> Scene:
    def pick(options):
        return options[int(torch.randint(len(options), (1,), generator=generator))]

    def uniform(low, high):
        return low + (high - low) * float(torch.rand((), generator=generator))

    background = pick(BACKGROUND_COLORS)
    count = int(torch.randint(1, max_objects + 1, (1,), generator=generator))
    objects = []
    used: set[tuple[str, str]] = set()
    while len(objects) < count:
        color = pick([c for c in COLORS if c != background])
        shape = pick(SHAPES)
        if (color, shape) in used:  # each caption names distinct objects
            continue
        used.add((color, shape))
        radius = uniform(0.11, 0.2) * size
        start = (uniform(radius, size - radius), uniform(radius, size - radius))
        speed = uniform(0.5, 2.5) if moving else 0.0
        heading = uniform(0, 2 * math.pi)
        objects.append(WorldObject(shape, color, radius, start, (speed * math.cos(heading), speed * math.sin(heading))))
    return Scene(pick(TEXTURES), background, uniform(0, math.pi), uniform(0.25, 0.5) * size, tuple(objects))


def new_look(scene: Scene, generator: torch.Generator, avoid_color: str) -> tuple[str, str]:
    """A colour and a shape for an edited object: its shape appears nowhere else in the scene, so its
    word is unambiguous in the edited prompt (RAD steers one token per word), and its colour is its
    own (the scorer finds it by colour alone)."""
    shapes_in_scene = {o.shape for o in scene.objects}
    colors_in_scene = {o.color for o in scene.objects} | {scene.background, avoid_color}
    while True:
        color = list(COLORS)[int(torch.randint(len(COLORS), (1,), generator=generator))]
        shape = SHAPES[int(torch.randint(len(SHAPES), (1,), generator=generator))]
        if color not in colors_in_scene and shape not in shapes_in_scene:
            return color, shape


def edit_source(scene: Scene, generator: torch.Generator) -> tuple[Scene, int]:
    """A source scene that an edit turns into `scene`, and which of its objects the edit makes (for
    training on edits): half the time the object is added (the source lacks `scene`'s last object),
    otherwise it replaces another object on the same path (another colour and shape there)."""
    if len(scene.objects) == 1 or float(torch.rand((), generator=generator)) < 0.5:
        return dataclasses.replace(scene, objects=scene.objects[:-1]), len(scene.objects) - 1
    k = int(torch.randint(len(scene.objects), (1,), generator=generator))
    edited = scene.objects[k]
    color, shape = new_look(scene, generator, "")
    before = dataclasses.replace(edited, color=color, shape=shape)
    return dataclasses.replace(scene, objects=scene.objects[:k] + (before,) + scene.objects[k + 1 :]), k


def _shape_sdf(shape: str, px: torch.Tensor, py: torch.Tensor, r: float) -> torch.Tensor:
    """Signed distance (pixels, negative inside) of a shape of radius r centred at the origin."""
    if shape == "circle":
        return torch.sqrt(px**2 + py**2) - r
    if shape == "ring":
        return torch.abs(torch.sqrt(px**2 + py**2) - 0.72 * r) - 0.28 * r
    if shape == "square":
        h = 0.82 * r
        qx, qy = px.abs() - h, py.abs() - h
        outside = torch.sqrt(qx.clamp(min=0) ** 2 + qy.clamp(min=0) ** 2)
        return outside + torch.minimum(torch.maximum(qx, qy), torch.zeros_like(qx))
    if shape == "triangle":  # equilateral, point up (Inigo Quilez's sdEquilateralTriangle)
        k = math.sqrt(3.0)
        s = r * 0.95
        x = px.abs() - s
        y = -py + s / k
        swap = x + k * y > 0
        x, y = torch.where(swap, (x - k * y) / 2, x), torch.where(swap, (-k * x - y) / 2, y)
        x = x - x.clamp(-2 * s, 0)
        return -torch.sqrt(x**2 + y**2) * torch.sign(y)
    if shape == "star":  # five points (Inigo Quilez's sdStar5)
        rf = 0.45
        k1 = (0.809016994375, -0.587785252292)
        k2 = (-k1[0], k1[1])
        x, y = px.abs(), -py
        d1 = x * k1[0] + y * k1[1]
        x, y = x - 2 * torch.clamp(d1, min=0) * k1[0], y - 2 * torch.clamp(d1, min=0) * k1[1]
        d2 = x * k2[0] + y * k2[1]
        x, y = x - 2 * torch.clamp(d2, min=0) * k2[0], y - 2 * torch.clamp(d2, min=0) * k2[1]
        x = x.abs()
        y = y - r
        ba = (-rf * k1[1] * r, rf * k1[0] * r - r)
        h = ((x * ba[0] + y * ba[1]) / (ba[0] ** 2 + ba[1] ** 2)).clamp(0, 1)
        dx, dy = x - ba[0] * h, y - ba[1] * h
        return torch.sqrt(dx**2 + dy**2) * torch.sign(dy * ba[0] - dx * ba[1])
    raise ValueError(f"unknown shape {shape}")


def _tint(color: str, amount: float) -> torch.Tensor:
    """The named colour pushed towards white (amount > 0) or black (amount < 0)."""
    c = torch.tensor(COLORS[color], dtype=torch.float32)
    return c + (255 - c) * amount if amount > 0 else c * (1 + amount)


def render_background(scene: Scene, size: int, device="cpu") -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32, device=device), torch.arange(size, dtype=torch.float32, device=device), indexing="ij")
    u = x * math.cos(scene.angle) + y * math.sin(scene.angle)
    v = -x * math.sin(scene.angle) + y * math.cos(scene.angle)
    if scene.texture == "gradient":
        blend = (u - u.min()) / (u.max() - u.min())
    elif scene.texture == "striped":
        blend = 0.5 + 0.5 * torch.sin(2 * math.pi * u / scene.period)
    elif scene.texture == "checkered":
        blend = torch.sigmoid(2.5 * torch.sin(2 * math.pi * u / scene.period) * torch.sin(2 * math.pi * v / scene.period))
    else:  # cloudy: a few slow waves
        blend = 0.5 + 0.25 * torch.sin(2 * math.pi * u / (2.1 * scene.period)) + 0.25 * torch.sin(2 * math.pi * (0.6 * u + v) / (2.9 * scene.period))
    dark = COLORS[scene.background] == COLORS["black"]
    base = _tint(scene.background, 0.0).to(device)
    other = _tint(scene.background, 0.35 if not dark else 0.0).to(device) if not dark else torch.tensor((80.0, 80.0, 80.0), device=device)
    return base[:, None, None] * (1 - blend) + other[:, None, None] * blend  # (3, H, W), 0..255


def render_layers(scene: Scene, frames: int, size: int, device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(frames, 3, size, size) float in 0..255, and how much of each pixel each object covers where it
    is visible, later objects hiding earlier ones: (objects, frames, size, size) in 0..1."""
    img = render_background(scene, size, device)[None].repeat(frames, 1, 1, 1)
    grid = torch.arange(size, dtype=torch.float32, device=device) + 0.5
    y, x = grid[None, :, None], grid[None, None, :]
    visible: list[torch.Tensor] = []
    for obj in scene.objects:
        centres = torch.tensor([obj.centre(f, size) for f in range(frames)], dtype=torch.float32, device=device)
        cx, cy = centres[:, 0, None, None], centres[:, 1, None, None]
        alpha = (0.5 - _shape_sdf(obj.shape, x - cx, y - cy, obj.radius)).clamp(0, 1)
        color = torch.tensor(COLORS[obj.color], dtype=torch.float32, device=device)[None, :, None, None]
        img = img * (1 - alpha[:, None]) + color * alpha[:, None]
        visible = [v * (1 - alpha) for v in visible] + [alpha]
    coverage = torch.stack(visible) if visible else torch.zeros(0, frames, size, size, device=device)
    return img, coverage


def render_clip(scene: Scene, frames: int, size: int, device="cpu") -> torch.Tensor:
    """(frames, 3, size, size) float in 0..255; all frames of an object in one pass."""
    return render_layers(scene, frames, size, device)[0]


def all_caption_words() -> list[str]:
    """Every caption the world can produce is made of these (for the BPE vocabulary)."""
    phrases = [f"{c} {s}" for c in COLORS for s in SHAPES]
    return [caption_for([p, q, r], b, t) for p, q, r in zip(phrases, phrases[1:] + phrases[:1], phrases[2:] + phrases[:2]) for b in BACKGROUND_COLORS[:1] for t in TEXTURES] + [
        caption_for([p], b, t) for p in phrases[:1] for b in BACKGROUND_COLORS for t in TEXTURES
    ]
