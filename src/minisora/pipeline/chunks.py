"""One chunk: a short clip in latent space, some frames given (clean, t = 0), the rest generated.

Every prompting mode is a sequence of these. A chunk is laid out exactly like a training clip
of the causal autoencoder (its first latent frame is a single frame, each later one 4 frames)
with a conditioning mask over its latent frames, as in Open-Sora's masked training:

    latents   [ before: j+1 frames ][ new: n frames ][ after: k frames ]
    mask      [ True ...           ][ False ...     ][ True ...        ]
    pixels      4j+1 given frames     4n generated     frames 1..4k of a given clip

`before` is the encoding of the frames just before the new ones (an image, a clip's tail, the
previous chunk's last second), `after` the encoding of the frames that must follow them (the
clip to connect to, the start of a loop) minus its first latent frame, which the causal
encoder keeps alone: the last new frame then lands on the after clip's first frame, which the
caller drops. Without `before`, the first new latent frame is a single frame (4n - 3 frames).
Chunks after the first see their context lightly noised (diffusion forcing, Chen et al. 2024).
Guidance contrasts the model given the caption and the frames with the model given neither
(context guidance), so a chunk keeps to its given frames as much as to its caption.
SDEdit (Meng et al. 2022) starts the new frames from their given latents noised to t = strength.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from minisora.flow.loss import Denoiser, interpolate
from minisora.flow.samplers import guided_denoiser, sample
from minisora.flow.timesteps import sampling_times, shift_for_tokens
from minisora.pipeline.layout import check_step, search_start
from minisora.pipeline.model import WorldModel

OnEval = Callable[[], None]  # called after every evaluation of the transformer


@dataclass(frozen=True)
class ChunkPlan:
    before: int  # given frames before the new ones: 0 or 4j + 1
    new: int  # latent frames to generate
    after: int  # given frames after: 0 or 4k + 1 (their first frame is where the new ones end)

    @property
    def before_latents(self) -> int:
        return 0 if self.before == 0 else (self.before - 1) // 4 + 1

    @property
    def after_latents(self) -> int:
        return 0 if self.after == 0 else (self.after - 1) // 4

    @property
    def latents(self) -> int:
        return self.before_latents + self.new + self.after_latents

    @property
    def new_frames(self) -> int:
        """Frames decoded from the new latents (with `after`, the last one is the after clip's first)."""
        return 4 * self.new if self.before else 4 * self.new - 3

    def mask(self) -> torch.Tensor:
        """(latents,) bool: True where the latent frame is given."""
        return torch.tensor([True] * self.before_latents + [False] * self.new + [True] * self.after_latents)


@dataclass
class ChunkInputs:
    before: np.ndarray | None = None  # (plan.before, H, W, 3) uint8
    after: np.ndarray | None = None  # (plan.after, H, W, 3) uint8
    init: np.ndarray | None = None  # (plan.new_frames, H, W, 3) uint8: frames to edit (SDEdit)
    generated_context: bool = False  # the model made some of the given frames (noise them lightly)


@dataclass
class TextCondition:
    tokens: torch.Tensor  # (1, L, D) the caption's tokens
    mask: torch.Tensor  # (1, L) bool
    null_tokens: torch.Tensor  # (1, L0, D) the negative prompt (or empty caption) for guidance
    null_mask: torch.Tensor  # (1, L0) bool
    count: torch.Tensor | None = None  # (1,) objects the caption names, for a model with a count embedding
    objects: int = 0  # objects the caption names (0: it does not say), for the layout search


@dataclass
class ChunkResult:
    plan: ChunkPlan
    frames: np.ndarray  # (plan.new_frames, H, W, 3) uint8, the decoded new frames
    cond_mask: torch.Tensor  # (latents,) bool
    latents: torch.Tensor | None  # (C, latents, H', W') the sampled chunk, if kept
    start_time: float  # t where the new frames started (1 = noise; < 1 for an edit)
    candidate: int = 0  # the start a layout search kept (0: the plain generation's noise)


def to_pixels(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (1, 3, T, H, W) float32 in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).unsqueeze(0).float() / 127.5 - 1


def to_frames(pixels: torch.Tensor) -> np.ndarray:
    """(1, 3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    return ((pixels[0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).numpy()


def encode_given(model: WorldModel, plan: ChunkPlan, inputs: ChunkInputs
                 ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The clean latents of the given frames: before (1, C, j+1, h, w), after (1, C, k, h, w)."""
    vae = model.vae
    before = vae.encode(to_pixels(inputs.before)) if plan.before else None
    # the after clip's lone first frame is dropped: the last new frame lands on it
    after = vae.encode(to_pixels(inputs.after))[:, :, 1:] if plan.after else None
    return before, after


def start_latents(model: WorldModel, plan: ChunkPlan, inputs: ChunkInputs, noise: torch.Tensor,
                  strength: float | None) -> torch.Tensor:
    """(1, C, n, h, w) the new frames at their start time: noise, or an edit's frames noised."""
    if inputs.init is None or strength is None:
        return noise
    frames = inputs.init if inputs.before is None else np.concatenate([inputs.before, inputs.init])
    given = model.vae.encode(to_pixels(frames))[:, :, plan.before_latents:]  # causal: as in the clip
    t = torch.full((1, plan.new), strength)
    return interpolate(given, noise, t)


def chunk_times(steps: int, shift: float, strength: float | None) -> torch.Tensor:
    """(k + 1,) decreasing times: the shifted schedule, cut to start at t = strength for an edit."""
    times = sampling_times(steps, shift)
    if strength is None or strength >= 1:
        return times
    return torch.cat([torch.tensor([strength]), times[times < strength]])


def plan_times(model: WorldModel, plan: ChunkPlan, size: tuple[int, int], steps: int,
               strength: float | None, shift: float | None = None) -> torch.Tensor:
    """The chunk's sampling times, shifted for its token count as in training (SD3), or by `shift`."""
    if shift is None:
        (pt, ph, pw), f = model.dit.config.patch, model.vae.config.spatial_factor
        tokens = plan.latents // pt * (size[1] // f // ph) * (size[0] // f // pw)
        shift = shift_for_tokens(tokens, model.n_ref_tokens)
    return chunk_times(steps, shift, strength)


def evaluations(times: torch.Tensor, sampler: str) -> int:
    """How many times the sampler calls the transformer over `times`."""
    steps = len(times) - 1
    return steps if sampler == "euler" else 2 * steps - int(float(times[-1]) == 0)


def run_chunk(model: WorldModel, plan: ChunkPlan, inputs: ChunkInputs, text: TextCondition,
              size: tuple[int, int], *, steps: int, cfg: float, sampler: str, generator: torch.Generator,
              context_noise: float = 0.0, strength: float | None = None, bf16: bool = False,
              keep_latents: bool = False, on_eval: OnEval | None = None,
              guidance_interval: tuple[float, float] = (0.0, 1.0),
              shift: float | None = None, context_guidance: bool = True, candidates: int = 1) -> ChunkResult:
    """Sample one chunk of frames of size (W, H) and decode its new frames. `context_guidance`:
    guidance's unconditional branch loses the given frames as well as the caption. `candidates`
    > 1: a layout search (layout.py) over that many starts, for a chunk that `searches`."""
    cfg_dit = model.dit.config
    channels = cfg_dit.latent_channels
    width, height = (s // model.vae.config.spatial_factor for s in size)  # latent W', H'

    before, after = encode_given(model, plan, inputs)
    noise = torch.randn((1, channels, plan.latents, height, width), generator=generator)
    b0, b1 = plan.before_latents, plan.before_latents + plan.new
    new_start = start_latents(model, plan, inputs, noise[:, :, b0:b1], strength)
    zeros = torch.zeros_like(new_start)
    cond = torch.cat([z for z in (before, zeros, after) if z is not None], dim=2)  # (1, C, L, h, w)
    x_start = torch.cat([z for z in (before, new_start, after) if z is not None], dim=2)
    mask = plan.mask()
    times = plan_times(model, plan, size, steps, strength, shift)
    start_time = float(times[0])

    def denoiser(batch: int = 1) -> Denoiser:
        tokens, token_mask = text.tokens.expand(batch, -1, -1), text.mask.expand(batch, -1)
        count = None if text.count is None else text.count.expand(batch)
        return _counted(_autocast(guided_denoiser(model.dit, tokens, token_mask, text.null_tokens,
                                                  text.null_mask, cfg, guidance_interval, made=~mask,
                                                  given_noise=noise if context_guidance else None,
                                                  count=count),
                                  bf16), on_eval)

    candidate = 0
    if candidates > 1 and searches(model, plan, text, strength):
        others = torch.randn((candidates - 1, *noise.shape[1:]), generator=generator)
        with torch.inference_mode():
            candidate, x_start, _ = search_start(denoiser(candidates), torch.cat([noise, others]), times,
                                                 model.counter, text.objects, method=sampler)
        times = times[check_step(len(times) - 1):]
    latents = sample(denoiser(), x_start, times, cond_latents=cond, cond_mask=mask[None], method=sampler,
                     context_noise=context_noise if inputs.generated_context else 0.0, generator=generator)
    # (1, 3, frames, H, W); a causal decoder ignores `after`, a look-ahead one sees its first latent
    pixels = model.vae.decode(latents[:, :, :b1 + (1 if model.vae.config.lookahead and plan.after else 0)])
    first = plan.before if plan.before else 0
    frames = to_frames(pixels[:, :, first:first + plan.new_frames])
    return ChunkResult(plan, frames, mask, latents[0].clone() if keep_latents else None, start_time,
                       candidate)


def searches(model: WorldModel, plan: ChunkPlan, text: TextCondition, strength: float | None) -> bool:
    """Whether a layout search applies: a chunk made from nothing (no given frames, no edit)
    whose caption names how many objects, by a model with a count reader."""
    return model.counter is not None and text.objects > 0 and from_nothing(plan, strength)


def from_nothing(plan: ChunkPlan, strength: float | None) -> bool:
    """A chunk with no given frames before or after it and no frames to edit."""
    return not plan.before and not plan.after and strength is None


def _autocast(denoiser: Denoiser, enabled: bool) -> Denoiser:
    if not enabled:
        return denoiser

    def autocast_denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return denoiser(x, t).float()

    return autocast_denoiser


def _counted(denoiser: Denoiser, on_eval: OnEval | None) -> Denoiser:
    """The denoiser, calling on_eval once per item of each batch it evaluates."""
    if on_eval is None:
        return denoiser

    def counted(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        v = denoiser(x, t)
        for _ in range(x.shape[0]):
            on_eval()
        return v

    return counted
