"""Samplers for rectified flow: Euler and Heun over a time grid, with per-frame times and
classifier-free guidance.

One mechanism serves every prompting mode: a conditioning frame stays at t = 0 for the whole
run, so its step size is 0 and it leaves the sampler exactly as it came in. With
`context_noise` > 0 the model sees the conditioning frames lightly noised (diffusion forcing's
trick for stable long rollouts) while the frames themselves are still returned unchanged.
"""

from __future__ import annotations

import torch

from minisora.flow.loss import Denoiser, condition_times, frame_view, interpolate


def euler_step(x: torch.Tensor, v: torch.Tensor, dt: torch.Tensor | float) -> torch.Tensor:
    """x_{t - dt} = x_t - dt v; dt a float or per-frame (B, T')."""
    if isinstance(dt, torch.Tensor):
        dt = frame_view(dt).to(x.dtype)
    return x - dt * v


def cfg_velocity(v_cond: torch.Tensor, v_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Classifier-free guidance: v_u + w (v_c - v_u); w = 1 is the conditional model alone."""
    return v_uncond + scale * (v_cond - v_uncond)


def sample(denoiser: Denoiser, noise: torch.Tensor, times: torch.Tensor,
           cond_latents: torch.Tensor | None = None, cond_mask: torch.Tensor | None = None,
           method: str = "euler", context_noise: float = 0.0,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Integrate from t = times[0] (noise) to times[-1] (data).

    noise, cond_latents (B, C, T', H', W'); times (steps + 1,) decreasing; cond_mask (B, T') bool,
    True where cond_latents holds a clean frame to keep. Returns the sample (B, C, T', H', W')."""
    if method not in ("euler", "heun"):
        raise ValueError(f"sampler {method!r} is unknown; choose 'euler' or 'heun'")
    b, frames = noise.shape[0], noise.shape[2]
    if cond_mask is not None and cond_latents is None:
        raise ValueError("a conditioning mask needs cond_latents holding the clean frames")
    cond_mask = cond_mask if cond_mask is not None else torch.zeros(b, frames, dtype=torch.bool)
    cond_mask = cond_mask.to(noise.device)
    x = noise if cond_latents is None else torch.where(frame_view(cond_mask), cond_latents, noise)
    model = _with_context_noise(denoiser, x, cond_mask, context_noise, generator)
    for i in range(len(times) - 1):
        t_now = condition_times(times[i].expand(b, frames).to(noise.device), cond_mask)
        t_next = condition_times(times[i + 1].expand(b, frames).to(noise.device), cond_mask)
        v = model(x, t_now)
        if method == "heun" and float(times[i + 1]) > 0:
            v = 0.5 * (v + model(euler_step(x, v, t_now - t_next), t_next))
        x = euler_step(x, v, t_now - t_next)
    return x


def _with_context_noise(denoiser: Denoiser, x_start: torch.Tensor, cond_mask: torch.Tensor,
                        level: float, generator: torch.Generator | None) -> Denoiser:
    """The denoiser, but shown conditioning frames noised to t = level (their x stays clean)."""
    if level <= 0 or not bool(cond_mask.any()):
        return denoiser
    eps = torch.randn(x_start.shape, generator=generator).to(x_start)
    t_ctx = torch.full(cond_mask.shape, level, device=x_start.device)

    def noisy_context(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        shown = torch.where(frame_view(cond_mask), interpolate(x, eps, t_ctx), x)
        return denoiser(shown, torch.where(cond_mask, t_ctx, t))

    return noisy_context


def guided_denoiser(model: torch.nn.Module, text: torch.Tensor, text_mask: torch.Tensor,
                    null_text: torch.Tensor, null_mask: torch.Tensor, scale: float,
                    interval: tuple[float, float] = (0.0, 1.0), made: torch.Tensor | None = None,
                    given_noise: torch.Tensor | None = None, count: torch.Tensor | None = None) -> Denoiser:
    """v(x, t) with classifier-free guidance: one batched call over [cond; uncond] (batch 2B).

    text (B, L, D) / text_mask (B, L); null_text (1 or B, L0, D) / null_mask: the empty caption.
    count (B,) int: the objects the caption names, for a model with a count embedding (None: the
    model is called without one); the unconditional branch gets 0, "unknown", as in training.
    Context guidance: with `given_noise` (shaped like x) and `made`, the unconditional branch
    loses the given frames too (the frames not `made` are shown as that noise at t = 1, the
    model's "nothing given"), so guidance pushes toward the caption and the given frames alike
    (as image-to-video models guide on their image). It costs nothing: the batch stays 2B.
    Guidance in a limited interval (Kynkaanniemi et al. 2024): only at evaluations whose noise
    level lies in [lo, hi], the rest call the conditional model alone (batch B, not 2B). The
    level is the largest t of the frames being made (`made`, (T',) bool; default every frame),
    so noised conditioning frames do not count. lo and hi are rectified-flow times (t = 1
    noise), not the paper's EDM sigmas: sigma = t / (1 - t)."""
    lo, hi = interval
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"guidance interval [{lo:g}, {hi:g}]: need 0 <= lo < hi <= 1")
    if given_noise is not None and made is None:
        raise ValueError("context guidance (given_noise) needs `made`: which frames are generated")
    given = None if given_noise is None or bool(made.all()) else ~made  # (T',) frames the uncond branch loses

    counted = {} if count is None else {"count": count}

    def conditional(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return model(x, t, text, text_mask, **counted)

    if scale == 1.0:
        return conditional
    b = text.shape[0]
    null_text, null_mask = null_text.expand(b, -1, -1), null_mask.expand(b, -1)
    length = max(text.shape[1], null_text.shape[1])
    texts = torch.cat([_pad(text, length), _pad(null_text, length)])
    masks = torch.cat([_pad(text_mask, length), _pad(null_mask, length)])
    both = {} if count is None else {"count": torch.cat([count, torch.zeros_like(count)])}

    def guided(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not lo <= float((t if made is None else t[..., made]).max()) <= hi:
            return conditional(x, t)
        x_uncond, t_uncond = x, t
        if given is not None:
            lost = given.to(t.device).expand_as(t)
            x_uncond, t_uncond = torch.where(frame_view(lost), given_noise.to(x), x), torch.where(lost, 1.0, t)
        v_cond, v_uncond = model(torch.cat([x, x_uncond]), torch.cat([t, t_uncond]), texts, masks, **both).chunk(2)
        return cfg_velocity(v_cond, v_uncond, scale)

    return guided


def _pad(x: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad dim 1 (tokens) to `length`; for bool masks the padding is False."""
    extra = length - x.shape[1]
    if extra == 0:
        return x
    pad = torch.zeros((x.shape[0], extra, *x.shape[2:]), dtype=x.dtype, device=x.device)
    return torch.cat([x, pad], dim=1)
