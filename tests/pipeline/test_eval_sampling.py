"""`minisora eval --steps/--cfg/--shift/--guidance-interval`: a model's benchmark videos are sampled with
the options given (as their signed manifests record)."""

from __future__ import annotations

import pytest
import torch

from minisora.cli import main
from minisora.eval.benchmark import make_video
from minisora.eval.suites import Case
from minisora.flow.timesteps import sampling_times, shift_for_tokens
from minisora.pipeline.chunks import ChunkPlan, plan_times
from minisora.provenance.manifest import read_manifest


@pytest.mark.usefixtures("one_thread")
def test_benchmark_videos_are_sampled_with_the_options_given(world, tmp_path, capsys):
    case = Case("camera", "a red ball", seconds=1.0, size=(32, 32))
    sampling = {"steps": 2, "cfg": 2.0, "guidance_interval": (0.3, 0.9), "shift": 3.0}
    generation = read_manifest(make_video(world, case, 5, tmp_path / "v.mp4", sampling)).generation
    assert generation["steps"] == 2
    assert {k: generation["parameters"][k] for k in ("cfg", "guidance_interval", "shift", "size")} == {
        "cfg": 2.0, "guidance_interval": "0.3,0.9", "shift": 3.0, "size": "32x32"}
    assert main(["eval", "--model", "render", "--suite", "camera", "--cfg", "3", "--out", str(tmp_path / "r")]) == 2
    assert "renders" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "v.mp4"), "--prompt", "a red ball", "--steps", "3"]) == 2
    assert "scored as it is" in capsys.readouterr().err


def test_a_given_shift_replaces_the_training_shift(world):
    """--shift sets the schedule outright; without it the chunk's token count sets it, as in training."""
    plan = ChunkPlan(before=0, new=5, after=0)
    given = plan_times(world, plan, (32, 32), 4, None, shift=3.0)
    assert torch.allclose(given, sampling_times(4, 3.0))
    tokens = 5 // world.dit.config.patch[0] * (32 // world.vae.config.spatial_factor // world.dit.config.patch[1]) \
        * (32 // world.vae.config.spatial_factor // world.dit.config.patch[2])
    own = plan_times(world, plan, (32, 32), 4, None)
    assert torch.allclose(own, sampling_times(4, shift_for_tokens(tokens, world.n_ref_tokens)))
    assert float(given[1]) > float(own[1])  # more of the steps at high noise
