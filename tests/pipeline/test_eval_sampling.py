"""`minisora eval --steps/--cfg/--guidance-interval`: a model's benchmark videos are sampled with
the options given (as their signed manifests record)."""

from __future__ import annotations

import pytest

from minisora.cli import main
from minisora.eval.benchmark import make_video
from minisora.eval.suites import Case
from minisora.provenance.manifest import read_manifest


@pytest.mark.usefixtures("one_thread")
def test_benchmark_videos_are_sampled_with_the_options_given(world, tmp_path, capsys):
    case = Case("camera", "a red ball", seconds=1.0, size=(32, 32))
    sampling = {"steps": 2, "cfg": 2.0, "guidance_interval": (0.3, 0.9)}
    generation = read_manifest(make_video(world, case, 5, tmp_path / "v.mp4", sampling)).generation
    assert generation["steps"] == 2
    assert {k: generation["parameters"][k] for k in ("cfg", "guidance_interval", "size")} == {
        "cfg": 2.0, "guidance_interval": "0.3,0.9", "size": "32x32"}
    assert main(["eval", "--model", "render", "--suite", "camera", "--cfg", "3", "--out", str(tmp_path / "r")]) == 2
    assert "renders" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "v.mp4"), "--prompt", "a red ball", "--steps", "3"]) == 2
    assert "scored as it is" in capsys.readouterr().err
