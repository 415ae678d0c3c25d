"""Timesteps for training and sampling: logit-normal draws and the resolution shift.

SD3 (Esser et al. 2024): t = sigmoid(n), n ~ N(mean, std) beat uniform t for rectified flow;
larger inputs need more noise, so t is shifted by t' = s t / (1 + (s - 1) t) with
s = sqrt(n / n_ref), n the number of latent tokens. The same shift is used at sampling time.
Diffusion forcing (Chen et al. 2024) draws an independent t for every frame.
"""

from __future__ import annotations

import math

import torch

N_REF_TOKENS = 256  # the token count at which the shift is 1


def shift_for_tokens(n_tokens: int, n_ref: int = N_REF_TOKENS) -> float:
    """SD3's resolution-dependent shift s = sqrt(n / n_ref)."""
    if n_tokens < 1 or n_ref < 1:
        raise ValueError(f"token counts must be positive, got n={n_tokens}, n_ref={n_ref}")
    return math.sqrt(n_tokens / n_ref)


def shift_time(t: torch.Tensor, shift: float) -> torch.Tensor:
    """t' = s t / (1 + (s - 1) t): s > 1 moves time towards noise; keeps 0 -> 0 and 1 -> 1."""
    if shift <= 0:
        raise ValueError(f"shift {shift} must be positive")
    return shift * t / (1 + (shift - 1) * t)


def sample_timesteps(batch: int, frames: int, shift: float = 1.0, per_frame_prob: float = 0.0,
                     mean: float = 0.0, std: float = 1.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, T') shifted logit-normal timesteps in (0, 1).

    A clip shares one t across its frames, except with probability `per_frame_prob`, when
    every frame draws its own t (diffusion forcing)."""
    shared = torch.randn(batch, 1, generator=generator).expand(batch, frames)
    own = torch.randn(batch, frames, generator=generator)
    independent = torch.rand(batch, 1, generator=generator) < per_frame_prob
    normal = torch.where(independent, own, shared)
    return shift_time(torch.sigmoid(mean + std * normal), shift)


def sampling_times(steps: int, shift: float = 1.0) -> torch.Tensor:
    """(steps + 1,) decreasing times from 1 to 0, uniform in t before the shift."""
    if steps < 1:
        raise ValueError(f"steps {steps}: need at least 1 sampling step")
    return shift_time(torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64), shift).float()
