"""The rectified-flow training objective with per-frame timesteps and conditioning frames.

Conditioning frames (mask True) are clean: they enter at t = 0 and carry no loss, so one model
learns text-to-video, image-to-video, extension and transitions (Open-Sora's random masks).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

# v = denoiser(x_t (B, C, T', H', W'), t (B, T')) with the conditioning bound in
Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
# (x_t, t, v) -> (B, T', H', W') loss weight, from the noisy input and the model's own (detached)
# prediction only: such a weight leaves the best velocity E[v | x_t] where it is
WeightFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def frame_view(t: torch.Tensor) -> torch.Tensor:
    """(B, T') per-frame values -> (B, 1, T', 1, 1) to broadcast over latents (B, C, T', H', W')."""
    return t[:, None, :, None, None]


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x0 + t eps with per-frame t (B, T')."""
    tf = frame_view(t).to(x0.dtype)
    return (1 - tf) * x0 + tf * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """v = eps - x0: what the denoiser learns to predict."""
    return noise - x0


def condition_times(t: torch.Tensor, cond_mask: torch.Tensor | None) -> torch.Tensor:
    """Per-frame times with conditioning frames (mask True) set to 0, i.e. clean."""
    if cond_mask is None:
        return t
    if cond_mask.shape != t.shape or cond_mask.dtype != torch.bool:
        raise ValueError(f"conditioning mask must be bool {tuple(t.shape)}, got {cond_mask.dtype} "
                         f"{tuple(cond_mask.shape)}")
    return torch.where(cond_mask, torch.zeros_like(t), t)


def clean_estimate(x_t: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """x0 as a velocity v predicts it from x_t at per-frame times t (B, T'): x_t - t v."""
    return x_t - frame_view(t).to(x_t.dtype) * v


def _errors(denoiser: Denoiser, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor,
            cond_mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    t = condition_times(t, cond_mask)
    x_t = interpolate(x0, noise, t)
    v = denoiser(x_t, t)
    return (v.float() - velocity_target(x0, noise).float()).pow(2), x_t, t, v


def velocity_errors(denoiser: Denoiser, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor,
                    cond_mask: torch.Tensor | None = None) -> torch.Tensor:
    """(B, C, T', H', W') squared velocity error of every latent element, conditioning frames at t = 0."""
    return _errors(denoiser, x0, noise, t, cond_mask)[0]


def flow_loss(denoiser: Denoiser, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor,
              cond_mask: torch.Tensor | None = None, weight: torch.Tensor | WeightFn | None = None
              ) -> torch.Tensor:
    """Mean squared velocity error over the frames to generate (conditioning frames excluded).

    x0, noise (B, C, T', H', W'); t (B, T') in [0, 1]; cond_mask (B, T') bool or None; weight
    (B, T', H', W') or None: each latent cell's weight in the mean (e.g. more where objects are),
    the same for every channel; or a WeightFn, called with (x_t, t, v) detached to give it. The
    mean is normalised by the weights, so a uniform weight is no weight at all."""
    err, x_t, t_used, v = _errors(denoiser, x0, noise, t, cond_mask)
    if callable(weight):
        with torch.no_grad():
            weight = weight(x_t.detach(), t_used, v.detach())
    if cond_mask is None and weight is None:
        return err.mean()
    if weight is not None and weight.shape != (err.shape[0], *err.shape[2:]):
        raise ValueError(f"loss weight must be (B, T', H', W') = {(err.shape[0], *err.shape[2:])}, "
                         f"got {tuple(weight.shape)}")
    w = torch.ones_like(err) if weight is None else weight.float()[:, None].expand_as(err)
    if cond_mask is not None:
        w = w * frame_view((~cond_mask).float())
    return (err * w).sum() / w.sum().clamp_min(1.0)
