"""DDIM with Stable Diffusion 1.x settings (diffusers' DDIMScheduler, eta = 0, "leading" spacing) and
the DDIM inversion step of Tune-A-Video (util.next_step)."""

from __future__ import annotations

import numpy as np
import torch

from .config import SchedulerConfig


class DDIMScheduler:
    def __init__(self, cfg: SchedulerConfig):
        self.cfg = cfg
        # float32 like diffusers, so the coefficients are the reference's to the last bit.
        betas = torch.linspace(cfg.beta_start**0.5, cfg.beta_end**0.5, cfg.num_train_timesteps, dtype=torch.float32) ** 2
        self.alphas_cumprod = torch.cumprod(1.0 - betas, dim=0)
        self.final_alpha_cumprod = torch.tensor(1.0) if cfg.set_alpha_to_one else self.alphas_cumprod[0]

    def timesteps(self, num_steps: int) -> list[int]:
        """981, 961, ..., 1 for 50 steps."""
        ratio = self.cfg.num_train_timesteps // num_steps
        return [int(t) + self.cfg.steps_offset for t in (np.arange(num_steps) * ratio).round()[::-1]]

    def alpha(self, t: int) -> torch.Tensor:
        return self.alphas_cumprod[t] if t >= 0 else self.final_alpha_cumprod

    def step(self, eps: torch.Tensor, t: int, sample: torch.Tensor, num_steps: int) -> torch.Tensor:
        """x_{t-Δ} from x_t and ε̂ (η = 0): x̂0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t; x_prev = √ᾱ_prev x̂0 + √(1−ᾱ_prev) ε̂."""
        a_t = self.alpha(t)
        a_prev = self.alpha(t - self.cfg.num_train_timesteps // num_steps)
        pred_original = (sample - (1 - a_t) ** 0.5 * eps) / a_t**0.5
        return a_prev**0.5 * pred_original + (1 - a_prev) ** 0.5 * eps

    def inversion_step(self, eps: torch.Tensor, t: int, sample: torch.Tensor, num_steps: int) -> torch.Tensor:
        """Tune-A-Video's next_step: from the latent at t − Δ to t, with ε evaluated at t."""
        current = min(t - self.cfg.num_train_timesteps // num_steps, 999)
        a_t = self.alpha(current)
        a_next = self.alphas_cumprod[t]
        pred_original = (sample - (1 - a_t) ** 0.5 * eps) / a_t**0.5
        return a_next**0.5 * pred_original + (1 - a_next) ** 0.5 * eps

    def add_noise(self, original: torch.Tensor, noise: torch.Tensor, t: int) -> torch.Tensor:
        """Forward noising √ᾱ_t x0 + √(1−ᾱ_t) ε."""
        a_t = self.alphas_cumprod[t]
        return a_t**0.5 * original + (1 - a_t) ** 0.5 * noise
