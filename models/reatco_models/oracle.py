"""The ReAtCo pipeline in PyTorch: DDIM inversion, RAD (main update and iterative refinement), IRJS,
classifier-free guidance and sliding windows. It is the oracle the TypeScript engine is proved
against, and the baseline the GPU benchmark times.

Where the reference code has a quirk, this takes the clean behaviour (models/README.md lists them):
refinement tests its threshold on the current latent and stops when it is met; the main update after
refinement uses fresh fg and bg; no UNet pass is computed and thrown away; IRJS noise comes from the
portable seeded generator, one draw per step for the whole clip; the VAE encodes to the posterior
mean; windows always cover the last frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .config import ModelConfig
from .noise import irjs_stream, normal
from .rad import rad_gradient, rank_weights, step_size
from .scheduler import DDIMScheduler


@dataclass(frozen=True)
class EditSettings:
    steps: int = 50
    inversion_steps: int = 50
    guidance_scale: float = 12.5
    rad: bool = True
    irjs: bool = True
    # The main RAD update runs on steps i < rad_steps (the reference: 25 of 50); None = steps // 2.
    rad_steps: int | None = None
    step_scale: float = 20.0
    step_range: tuple[float, float] = (1.0, 0.5)
    # (fraction of the steps, threshold): the reference's {0: 0.05, 10: 0.5, 20: 0.8} for 50 steps.
    refinement: tuple[tuple[float, float], ...] = ((0.0, 0.05), (0.2, 0.5), (0.4, 0.8))
    max_refinement_iterations: int = 20
    top_fraction: float = 0.2
    window: int | None = None  # frames per window; None = the whole clip at once
    stride: int = 1
    seed: int = 0
    # Benchmark baseline only: also do the work the reference code does and throws away (a whole-UNet
    # gradient forward at every step, two ε passes and one more forward per refinement iteration).
    reference_costs: bool = False

    @property
    def main_rad_steps(self) -> int:
        return self.steps // 2 if self.rad_steps is None else self.rad_steps

    def refinement_thresholds(self) -> dict[int, float]:
        return {round(fraction * self.steps): threshold for fraction, threshold in self.refinement}


@dataclass
class EditObject:
    """One object word: its token position in the edited prompt and its region per frame on the
    RAD attention grid (F, ah, aw) and on the latent grid (F, h, w), both 0/1."""

    token_index: int
    attention_masks: torch.Tensor
    latent_masks: torch.Tensor


@dataclass
class StepTrace:
    """What happened at one step (for fixtures and debugging)."""

    index: int
    timestep: int
    rad_passes: int = 0
    refinement_iterations: int = 0
    fg: list[float] = field(default_factory=list)
    bg: list[float] = field(default_factory=list)


def windows(frames: int, size: int | None, stride: int) -> list[tuple[int, int]]:
    """The reference's get_views (windows of `size` frames every `stride`), plus a last window ending
    at the last frame when the stride would leave frames uncovered."""
    if size is None or size >= frames:
        return [(0, frames)]
    views = [(start, start + size) for start in range(0, frames - size + 1, stride)]
    if views[-1][1] < frames:
        views.append((frames - size, frames))
    return views


def union_mask(objects: list[EditObject]) -> torch.Tensor:
    """IRJS's editable region: the union of all object regions on the latent grid, (F, h, w)."""
    return torch.stack([o.latent_masks.float() for o in objects]).amax(dim=0)


class Oracle:
    def __init__(self, cfg: ModelConfig, unet, vae, text_encoder):
        self.cfg = cfg
        self.unet = unet.eval()
        self.vae = vae.eval()
        self.text_encoder = text_encoder.eval()
        self.scheduler = DDIMScheduler(cfg.scheduler)
        self.dtype = next(unet.parameters()).dtype
        self.device = next(unet.parameters()).device

    @torch.no_grad()
    def text_embedding(self, ids: list[int]) -> torch.Tensor:
        return self.text_encoder(torch.tensor([ids], device=self.device)).float()

    @torch.no_grad()
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """RGB uint8 frames (F, H, W, 3) -> scaled latent (1, C, F, h, w)."""
        image = torch.from_numpy(frames).to(self.device).permute(0, 3, 1, 2).float() / 127.5 - 1
        latent = self.vae.encode_mean(image.to(self.dtype)).float() * self.cfg.vae.scaling_factor
        return latent.permute(1, 0, 2, 3)[None]

    @torch.no_grad()
    def decode(self, latent: torch.Tensor) -> np.ndarray:
        """Scaled latent (1, C, F, h, w) -> RGB uint8 frames (F, H, W, 3), rounded."""
        z = latent[0].permute(1, 0, 2, 3) / self.cfg.vae.scaling_factor
        image = self.vae.decode(z.to(self.dtype)).float()
        image = ((image + 1) * 127.5).clamp(0, 255).round().to(torch.uint8)
        return image.permute(0, 2, 3, 1).cpu().numpy()

    @torch.no_grad()
    def eps(self, sample: torch.Tensor, t: int, context: torch.Tensor) -> torch.Tensor:
        timestep = torch.tensor([float(t)], device=self.device)
        return self.unet(sample.to(self.dtype), timestep, context.to(self.dtype)).float()

    def invert(self, z0: torch.Tensor, empty_embedding: torch.Tensor, steps: int) -> list[torch.Tensor]:
        """DDIM inversion with the empty prompt and no guidance; returns [z0, ..., z_T]."""
        trajectory = [z0]
        z = z0
        for t in reversed(self.scheduler.timesteps(steps)):
            z = self.scheduler.inversion_step(self.eps(z, t, empty_embedding), t, z, steps)
            trajectory.append(z)
        return trajectory

    def rad_pass(self, x, t, cond, objects, frame_range, weights, top_fraction=0.2, **costs):
        """One RAD graph evaluation on a window: (grad, loss, fg, bg). `weights` = (fg, bg, max)."""
        a, b = frame_range
        masks = torch.stack([o.attention_masks[a:b] for o in objects]).float().to(self.device)
        k, f = masks.shape[:2]
        rw_fg, rw_bg = rank_weights(masks.reshape(k, f, -1).cpu(), top_fraction)
        tokens = torch.tensor([o.token_index for o in objects], device=self.device)
        w = [torch.full((k,), float(v), device=self.device) for v in weights]
        return rad_gradient(
            self.unet, x, torch.tensor([float(t)], device=self.device), cond, masks, tokens,
            rw_fg.to(self.device), rw_bg.to(self.device), *w, **costs,
        )

    def edit(
        self,
        z0: torch.Tensor,
        z_start: torch.Tensor,
        uncond: torch.Tensor,
        cond: torch.Tensor,
        objects: list[EditObject],
        settings: EditSettings,
        trace: list[StepTrace] | None = None,
        on_step=None,
    ) -> torch.Tensor:
        """Denoises from the inverted latent z_start with RAD, IRJS and CFG; returns the edited z0."""
        frames = z0.shape[2]
        mask = union_mask(objects)[None, None].to(self.device) if objects else None
        thresholds = settings.refinement_thresholds()
        timesteps = self.scheduler.timesteps(settings.steps)
        z = z_start
        for i, t in enumerate(timesteps):
            record = StepTrace(i, t)
            alpha = step_size(i, settings.steps, settings.step_scale, settings.step_range)
            noise = None
            if settings.irjs and mask is not None:
                noise = torch.from_numpy(normal(settings.seed, irjs_stream(i), z0.numel())).reshape(z0.shape).to(self.device)
            total = torch.zeros_like(z)
            count = torch.zeros(frames, device=self.device)
            for a, b in windows(frames, settings.window, settings.stride):
                x = z[:, :, a:b]
                reference = settings.reference_costs and settings.rad and objects
                if reference and i >= settings.main_rad_steps:
                    self.rad_pass(x, t, cond, objects, (a, b), (1, 1, 0), settings.top_fraction, full_forward=True, backward=False)
                    record.rad_passes += 1
                if settings.rad and objects and i < settings.main_rad_steps:
                    if i in thresholds:
                        x = self._refine(x, t, cond, objects, (a, b), alpha, thresholds[i], settings, record)
                    grad, _, fg, bg = self.rad_pass(x, t, cond, objects, (a, b), (1, 1, 0), settings.top_fraction, full_forward=bool(reference))
                    record.rad_passes += 1
                    record.fg, record.bg = fg.tolist(), bg.tolist()
                    x = x - alpha * grad
                if noise is not None:
                    m = mask[:, :, a:b]
                    x = m * x + (1 - m) * self.scheduler.add_noise(z0[:, :, a:b], noise[:, :, a:b], t)
                eps = self.guided_eps(x, t, uncond, cond, settings.guidance_scale)
                total[:, :, a:b] += self.scheduler.step(eps, t, x, settings.steps)
                count[a:b] += 1
            z = total / count[None, None, :, None, None]
            if trace is not None:
                trace.append(record)
            if on_step is not None:
                on_step(i, z)
        return z

    def guided_eps(self, x, t, uncond, cond, scale):
        """Both CFG halves in one batch: ε̂ = ε_u + w (ε_c − ε_u)."""
        eps_u, eps_c = self.eps(torch.cat([x, x]), t, torch.cat([uncond, cond])).chunk(2)
        return eps_u + scale * (eps_c - eps_u)

    def _refine(self, x, t, cond, objects, frame_range, alpha, threshold, settings, record):
        """Attend-and-Excite iterative refinement on max_k (1 - fg_k)_+ until every object's fg
        reaches `threshold` or the iteration limit; the threshold is tested on the current latent."""
        grad, loss, _, _ = self.rad_pass(x, t, cond, objects, frame_range, (0, 0, 1), settings.top_fraction)
        record.rad_passes += 1
        iterations = 0
        while loss.item() > 1 - threshold and iterations < settings.max_refinement_iterations:
            x = x - alpha * grad
            iterations += 1
            if iterations == settings.max_refinement_iterations and not settings.reference_costs:
                break  # the loss at the last latent would decide nothing (the reference measures it anyway)
            grad, loss, _, _ = self.rad_pass(x, t, cond, objects, frame_range, (0, 0, 1), settings.top_fraction)
            record.rad_passes += 1
            if settings.reference_costs:  # the reference's two discarded ε passes per iteration
                self.eps(x, t, cond)
                self.eps(x, t, cond)
        if settings.reference_costs and iterations:  # and its extra forward for fg after the loop
            self.rad_pass(x, t, cond, objects, frame_range, (0, 0, 1), settings.top_fraction, full_forward=True, backward=False)
        record.refinement_iterations += iterations
        return x
