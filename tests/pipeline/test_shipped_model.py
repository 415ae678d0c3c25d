"""The shipped default world model: it loads with the packaged autoencoder and text encoder,
and generates a watermarked, signed clip of the size asked for, the same for the same seed."""

from __future__ import annotations

import numpy as np

from minisora.media import probe, read_video
from minisora.pipeline import DEFAULT_MODEL, generate, load_world_model


def test_the_default_model_is_lean_and_loads_strictly():
    weights = DEFAULT_MODEL / "model.safetensors"
    assert weights.stat().st_size < 40 * 2**20  # one bf16 copy of a ~10 M-parameter model
    world = load_world_model()
    assert world.name == "minisora-world-s"
    assert sum(p.numel() for p in world.dit.parameters()) > 5e6


def test_the_default_model_generates_the_same_clip_for_the_same_seed(tmp_path):
    from minisora.provenance.verify import verify_file

    world = load_world_model()
    made = [generate(world, "two red balls bounce", tmp_path / f"{k}.mp4", seconds=1, steps=4, seed=3,
                     sound=None) for k in range(2)]
    info = probe(made[0].path)
    assert (info.width, info.height, info.frames, info.fps) == (64, 64, 17, 16)
    assert np.array_equal(made[0].frames, made[1].frames)
    frames = read_video(made[0].path, with_audio=False).frames
    assert frames.std() > 2  # not a blank or constant picture
    assert verify_file(made[0].path).exit_code == 0  # marked and signed
