"""Training and held-out clips for the autoencoder, rendered on the fly from the world.

The world's scene sampler (`minisora.world.sampler`) is used when it is installed; otherwise a
small sampler here draws 1-5 objects of every shape, colour, size and material, with occluders,
camera pans and colour-change rules, so the autoencoder sees everything the world can show.
Clip i of a split comes from seed (split, i): the held-out split never meets a training seed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from minisora.world.clip import render_clip
from minisora.world.spec import (
    BACKGROUNDS,
    MATERIALS,
    PALETTE,
    SHAPES,
    SIZES,
    ObjectSpec,
    Occluder,
    Rule,
    SceneSpec,
    SpecError,
)

SPLIT_SEEDS = {"train": 0, "heldout": 1}
# (width, height) at the training scale for each of the world's aspect ratios
ASPECT_SIZES: dict[str, tuple[int, int]] = {
    "1:1": (64, 64), "3:2": (96, 64), "2:3": (64, 96), "16:9": (112, 64), "9:16": (64, 112),
}


def clip_spec(index: int, split: str = "train", size: tuple[int, int] = (64, 64),
              fps: int = 16, seconds: float = 4.0) -> SceneSpec:
    """The scene spec of clip `index` of `split` ("train" or "heldout") at `size` (W, H)."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split {split!r}: choose from {', '.join(SPLIT_SEEDS)}")
    seed = int(np.random.SeedSequence([SPLIT_SEEDS[split], 4, index]).generate_state(1)[0])
    try:
        from minisora.world.sampler import SamplerConfig, sample_scene
    except ImportError:
        return _sample_scene(np.random.default_rng(seed), size, fps, seconds, seed)
    config = SamplerConfig.for_clip(size=size, fps=fps, duration=seconds)
    return sample_scene(seed, config, split=split)


def _sample_scene(rng: np.random.Generator, size: tuple[int, int], fps: int, seconds: float,
                  seed: int) -> SceneSpec:
    width, height = size
    spec = SceneSpec(width=width, height=height, fps=fps, duration=seconds, seed=seed,
                     background=str(rng.choice(list(BACKGROUNDS))), ground=bool(rng.random() < 0.85),
                     camera_pan=float(rng.choice([0.0, 0.0, 0.0, 0.1, -0.1, 0.2])))
    view_w, view_h = spec.view_width, spec.view_height
    for _ in range(int(rng.integers(1, 6))):
        for _attempt in range(20):
            obj = ObjectSpec(
                shape=str(rng.choice(SHAPES)), color=str(rng.choice(list(PALETTE))),
                size=str(rng.choice(list(SIZES))), material=str(rng.choice(list(MATERIALS))),
                x=float(rng.uniform(0.15, view_w - 0.15)), y=float(rng.uniform(0.3, view_h - 0.15)),
                vx=float(rng.normal(0, 0.4)), vy=float(rng.normal(0, 0.4)),
            )
            spec.objects.append(obj)
            try:
                spec.validate()
                break
            except SpecError:
                spec.objects.pop()
    if rng.random() < 0.25:
        grey = int(rng.integers(110, 200))
        spec.occluders.append(Occluder(x=float(rng.uniform(0.1, view_w - 0.3)), y=0.0,
                                       width=float(rng.uniform(0.08, 0.25)), height=float(view_h),
                                       color=(grey, grey, grey)))
    if spec.objects and rng.random() < 0.3:
        spec.rules.append(Rule(target=int(rng.integers(len(spec.objects))), color=str(rng.choice(list(PALETTE)))))
    return spec.validate()


def render_pixels(spec: SceneSpec) -> torch.Tensor:
    """Render a spec to (3, T, H, W) float32 in [-1, 1]."""
    frames = render_clip(spec, with_audio=False).frames  # (T, H, W, 3) uint8
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 127.5 - 1.0


POOL = 256  # a batch draws from a pool of this many clips ...
POOL_SLIDE = 64  # ... which renews this many clips every POOL steps


@lru_cache(maxsize=2 * POOL)
def _rendered(index: int, size: tuple[int, int]) -> torch.Tensor:
    """Clip `index` of the training split as (3, T, H, W) uint8: renders are reused across steps."""
    frames = render_clip(clip_spec(index, "train", size), with_audio=False).frames
    return torch.from_numpy(frames).permute(3, 0, 1, 2).contiguous()


def training_batch(step: int, seed: int, batch: int, frames: int, aspect_mix: float,
                   crop: int | None = None, focus: int = 1) -> torch.Tensor:
    """Batch `step` of a run: (batch, 3, frames, H, W), one aspect ratio per batch.

    A share `aspect_mix` of the batches uses a non-square aspect ratio. Each clip is a random
    window of `frames` (4k+1) frames from a 4 s clip; the batch depends only on (seed, step),
    which is what makes resume exact. Clips come from a sliding pool (POOL clips, POOL_SLIDE
    new ones every POOL steps), so each render serves a few windows: rendering costs about
    a third of a training step otherwise. `crop` cuts a random crop x crop square from each clip.
    With `focus` > 1, each item draws that many windows (and crops) and keeps the one that
    changes most from frame to frame: motion is where reconstructions lose the most (26 dB in
    the first half second of held-out clips, where objects fall and bounce, against 31 dB once
    they rest), while a crop of still sky or ground teaches nearly nothing.
    """
    rng = np.random.default_rng([seed, step])
    aspect = "1:1" if rng.random() >= aspect_mix else str(rng.choice(list(ASPECT_SIZES)[1:]))
    size = ASPECT_SIZES[aspect]
    base = seed * 1_000_003 + (step // POOL) * POOL_SLIDE
    clips = []
    for _item in range(batch):
        pixels = _rendered(base + int(rng.integers(POOL)), size)
        best, best_motion = None, -1.0
        for _candidate in range(max(1, focus)):
            window = _window(pixels, rng, frames, crop)
            motion = window.to(torch.int16).diff(dim=1).abs().float().mean().item() if focus > 1 else 0.0
            if motion > best_motion:
                best, best_motion = window, motion
        clips.append(best.float() / 127.5 - 1.0)
    return torch.stack(clips)


def _window(pixels: torch.Tensor, rng: np.random.Generator, frames: int, crop: int | None) -> torch.Tensor:
    """A random `frames`-long window of a (3, T, H, W) clip, cut to a random crop square."""
    start = int(rng.integers(0, pixels.shape[1] - frames + 1))
    pixels = pixels[:, start:start + frames]
    if crop is not None:
        top = int(rng.integers(0, pixels.shape[2] - crop + 1))
        left = int(rng.integers(0, pixels.shape[3] - crop + 1))
        pixels = pixels[:, :, top:top + crop, left:left + crop]
    return pixels
