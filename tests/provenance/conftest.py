"""World clips for the provenance tests: random scenes, rendered without sound (fast)."""

from __future__ import annotations

import numpy as np
import pytest


def random_scene(seed: int, width: int = 64, height: int = 64, seconds: float = 4.0):
    """A valid random scene: 1-4 objects, sometimes an occluder, sometimes a camera pan."""
    from minisora.world import (
        MATERIALS,
        PALETTE,
        SHAPES,
        SIZES,
        ObjectSpec,
        Occluder,
        SceneSpec,
        SpecError,
    )
    from minisora.world.spec import BACKGROUNDS

    rng = np.random.default_rng(seed)
    short = min(width, height)
    view_w, view_h = width / short, height / short
    for _ in range(100):
        objects = []
        for _ in range(rng.integers(1, 5)):
            size = str(rng.choice(list(SIZES)))
            half = SIZES[size]
            objects.append(ObjectSpec(
                shape=str(rng.choice(SHAPES)), color=str(rng.choice(list(PALETTE))), size=size,
                material=str(rng.choice(list(MATERIALS))), x=float(rng.uniform(half, view_w - half)),
                y=float(rng.uniform(0.1 + half, view_h - half)), vx=float(rng.normal(0, 0.5)),
                vy=float(rng.normal(0, 0.5)),
            ))
        occluders = [Occluder(x=float(rng.uniform(0, view_w - 0.2)), width=0.15,
                              height=float(rng.uniform(0.3, 0.8)))] if rng.random() < 0.3 else []
        spec = SceneSpec(width=width, height=height, duration=seconds, objects=objects, occluders=occluders,
                         background=str(rng.choice(list(BACKGROUNDS))), seed=seed,
                         camera_pan=float(rng.choice([0.0, 0.0, 0.1, -0.1])))
        try:
            return spec.validate()
        except SpecError:  # objects overlapping at the start: draw again
            continue
    raise RuntimeError(f"no valid scene for seed {seed}")


def render_world_frames(seed: int, width: int = 64, height: int = 64, seconds: float = 4.0) -> np.ndarray:
    from minisora.world import render_clip

    return render_clip(random_scene(seed, width, height, seconds), with_audio=False).frames


@pytest.fixture
def world_frames():
    """world_frames(seed, width=64, height=64, seconds=4.0) -> uint8 (T, H, W, 3)."""
    return render_world_frames


@pytest.fixture
def info():
    from minisora.provenance import ProvenanceInfo

    return ProvenanceInfo(model_name="minisora-world-s", model_version="0.1.0",
                          prompt="three red balls bounce to the right", seed=7, steps=24)
