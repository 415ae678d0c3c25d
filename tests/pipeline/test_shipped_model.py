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


def test_the_default_count_reader_counts_the_objects_of_rendered_clips():
    """The shipped model's count reader (the layout search's verifier, on by default) reads how
    many objects the world's own clips hold, through the packaged autoencoder."""
    from minisora.pipeline.chunks import to_pixels
    from minisora.train.counter import frame_counts
    from minisora.world.clip import render_clip
    from minisora.world.prompt import parse_prompt

    world = load_world_model()
    assert world.counter is not None
    right, total = 0, 0
    for seed, words in enumerate(("a red ball bounces", "two blue squares bounce", "three green triangles bounce",
                                  "a yellow ball and a pink square bounce")):
        clip = render_clip(parse_prompt(words, width=64, height=64, fps=16, duration=1.0, seed=seed),
                           with_audio=False)
        truth = frame_counts(clip.annotations())
        estimate = world.counter.frames(world.vae.encode(to_pixels(clip.frames)))[0]  # 5 latent frames
        for j, value in enumerate(estimate.tolist()):
            right += round(value) == truth[0 if j == 0 else 4 * j]
            total += 1
    assert right >= 0.9 * total
