"""The ways a video generator goes wrong, applied to good videos: what the Fréchet distance's
encoder must notice (bench/frechet_sensitivity.py, tests/eval/test_frechet_sensitivity.py).

Pixel degradations act on uint8 frames (T, H, W, 3); scene degradations (an object missing or
one too many) act on the scene before it is rendered, so the physics stays right.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from minisora.world.spec import PALETTE, ObjectSpec, SceneSpec, SpecError


def _to_uint8(frames: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def blur(frames: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Gaussian blur of every frame, sigma in pixels: the soft detail of an undertrained decoder."""
    return _to_uint8(ndimage.gaussian_filter(frames.astype(np.float32), (0, sigma, sigma, 0)))


def half_resolution(frames: np.ndarray) -> np.ndarray:
    """Each frame shrunk to half size by 2x2 averaging and blown back up (pixel doubling): detail
    lost as a coarse decoder loses it, by a filter unlike the blur above."""
    t, h, w, c = frames.shape
    small = frames[:, : h // 2 * 2, : w // 2 * 2].astype(np.float32)
    small = small.reshape(t, h // 2, 2, w // 2, 2, c).mean((2, 4))
    out = frames.astype(np.float32)
    out[:, : h // 2 * 2, : w // 2 * 2] = small.repeat(2, 1).repeat(2, 2)
    return _to_uint8(out)


def freeze(frames: np.ndarray) -> np.ndarray:
    """The first frame held for the whole clip: no motion at all."""
    return np.repeat(frames[:1], len(frames), axis=0)


def noise(frames: np.ndarray, std: float = 8.0, seed: int = 0) -> np.ndarray:
    """Independent Gaussian noise per pixel and frame (std in RGB levels): grain and flicker."""
    rng = np.random.default_rng(seed)
    return _to_uint8(frames.astype(np.float32) + rng.normal(0, std, frames.shape))


def shift_hue(frames: np.ndarray, degrees: float = 30.0) -> np.ndarray:
    """Rotate every pixel's hue about the grey axis: colours drift toward the next palette hue."""
    angle = np.deg2rad(degrees)
    axis = np.ones(3) / np.sqrt(3)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rotation = (
        np.cos(angle) * np.eye(3)
        + np.sin(angle) * cross
        + (1 - np.cos(angle)) * np.outer(axis, axis)
    )
    return _to_uint8(frames.astype(np.float32) @ rotation.T)


def reverse(frames: np.ndarray) -> np.ndarray:
    """The clip played backwards: bounces gain height, sliders speed up."""
    return frames[::-1].copy()


def shuffle(frames: np.ndarray, seed: int = 0) -> np.ndarray:
    """The frames in random order: motion without continuity."""
    return frames[np.random.default_rng(seed).permutation(len(frames))]


def slow_motion(frames: np.ndarray) -> np.ndarray:
    """The first half of the clip stretched over its whole length (each frame shown twice):
    everything moves and falls at half speed."""
    index = np.arange(len(frames)) // 2
    return frames[index]


PIXEL_DEGRADATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "blurred (sigma 1 px)": blur,
    "half resolution (2x2 blocks)": half_resolution,
    "frozen (first frame held)": freeze,
    "noise (std 8 levels per frame)": noise,
    "hue shifted 30 deg": shift_hue,
    "time-reversed": reverse,
    "frames shuffled": shuffle,
    "slow motion (half speed)": slow_motion,
}


def drop_object(spec: SceneSpec) -> SceneSpec:
    """The scene with its last object left out (an empty scene stays empty), and any
    colour-change rule for that object with it."""
    out = copy.deepcopy(spec)
    out.objects = out.objects[:-1]
    out.rules = [rule for rule in out.rules if rule.target < len(out.objects)]
    return out


def add_object(spec: SceneSpec, seed: int = 0, tries: int = 50) -> SceneSpec:
    """The scene with one more object like its first (another colour), placed where it fits;
    the scene unchanged if no place is found in `tries` draws."""
    rng = np.random.default_rng(seed)
    template = spec.objects[0] if spec.objects else ObjectSpec()
    for _ in range(tries):
        out = copy.deepcopy(spec)
        out.objects.append(
            ObjectSpec(
                shape=template.shape,
                color=str(rng.choice([c for c in PALETTE if c != template.color])),
                size=template.size,
                material=template.material,
                x=float(rng.uniform(0.15, spec.view_width - 0.15)),
                y=float(rng.uniform(0.3, 0.85)),
                vx=float(rng.uniform(-0.5, 0.5)),
            )
        )
        try:
            return out.validate()
        except SpecError:
            continue
    return spec


SCENE_DEGRADATIONS: dict[str, Callable[[SceneSpec], SceneSpec]] = {
    "one object missing": drop_object,
    "one extra object": add_object,
}
