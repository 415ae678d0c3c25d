"""A model with a count embedding is told, at every evaluation, how many objects the refined
caption names; guidance's unconditional branch is told "unknown"."""

from __future__ import annotations

from pipeline_helpers import FAST, make_model_folder

from minisora.pipeline import generate, load_world_model
from minisora.text.refine import caption_count, refine_prompt


def test_generation_conditions_a_count_model_on_the_refined_captions_count(tmp_path):
    world = load_world_model(make_model_folder(tmp_path / "counted", count_classes=6))
    assert world.dit.config.count_classes == 6
    seen = []
    forward = world.dit.forward

    def recording(x, t, text, mask, frame_offset=0, count=None):
        seen.append(None if count is None else count.tolist())
        return forward(x, t, text, mask, frame_offset, count)

    world.dit.forward = recording
    g = generate(world, "three balls bounce", tmp_path / "three.gif", seconds=1, seed=4, sound=False, **FAST)
    refined = refine_prompt("three balls bounce", seed=4, width=32, height=32, fps=16, duration=1.0)
    assert g.caption == refined.caption and caption_count(g.caption) == len(refined.spec.objects) == 3
    assert seen and all(c == [3, 0] for c in seen)  # [conditional, unconditional] in one batch of two
