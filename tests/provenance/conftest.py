"""World clips for the provenance tests: the world's own scene sampler, rendered without sound."""

from __future__ import annotations

import numpy as np
import pytest


def render_world_frames(seed: int, width: int = 64, height: int = 64, seconds: float = 4.0) -> np.ndarray:
    """uint8 (T, H, W, 3) frames of the sampled scene `seed` at one canvas size."""
    from minisora.world import render_clip
    from minisora.world.sampler import SamplerConfig, sample_scene

    spec = sample_scene(seed, SamplerConfig.for_clip(size=(width, height), duration=seconds))
    return render_clip(spec, with_audio=False).frames


@pytest.fixture
def world_frames():
    """world_frames(seed, width=64, height=64, seconds=4.0) -> uint8 (T, H, W, 3)."""
    return render_world_frames


@pytest.fixture
def info():
    from minisora.provenance import ProvenanceInfo

    return ProvenanceInfo(model_name="minisora-world-s", model_version="0.1.0",
                          prompt="three red balls bounce to the right", seed=7, steps=24)
