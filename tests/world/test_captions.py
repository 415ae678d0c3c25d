"""Captions: every object named, events in order, deterministic, and parseable back."""

from __future__ import annotations

import re

import pytest

from minisora.world import ObjectSpec, Rule, SceneSpec, simulate
from minisora.world.captions import caption_clip, describe_motion, short_prompts
from minisora.world.prompt import parse_prompt, read_prompt
from minisora.world.sampler import sample_scene

SAMPLE = range(40)


def _clip(spec: SceneSpec):
    return spec, simulate(spec)


def _count_named(caption: str) -> int:
    """Objects the caption introduces, read back by the parser."""
    return sum(g.count or 1 for g in read_prompt(caption).groups)


@pytest.mark.parametrize("seed", SAMPLE)
def test_every_object_appears_in_the_caption(seed):
    spec, traj = _clip(sample_scene(seed))
    caption = caption_clip(spec, traj)
    assert _count_named(caption) == len(spec.objects)
    for obj in spec.objects:
        assert re.search(rf"\b{obj.color}\b", caption)
        assert obj.size in caption and obj.material in caption


def test_captions_are_deterministic():
    spec, traj = _clip(sample_scene(3))
    assert caption_clip(spec, traj) == caption_clip(*_clip(sample_scene(3)))
    assert short_prompts(spec, traj, n=3, seed=1) == short_prompts(spec, traj, n=3, seed=1)


def test_motion_is_measured_from_the_trajectory():
    spec = SceneSpec(width=96, objects=[
        ObjectSpec("circle", "red", "small", "rubber", x=0.2, y=0.7, vx=0.1),  # in the air: bounces
        ObjectSpec("square", "blue", "medium", "glass", x=1.3, y=0.2001, vx=-0.5),  # on the floor: slides
        ObjectSpec("triangle", "green", "small", "wood", x=0.85, y=0.1701),  # rests
    ])
    spec, traj = _clip(spec)
    motions = [describe_motion(spec, traj, k) for k in range(3)]
    assert (motions[0].verb, motions[0].direction) == ("bounce", "right")
    assert (motions[1].verb, motions[1].direction) == ("slide", "left")
    assert motions[2].verb == "rest"
    caption = caption_clip(spec, traj)
    assert "red rubber ball bounces to the right" in caption
    assert "blue glass square slides to the left" in caption
    assert "green wood triangle rests on the floor" in caption


def test_events_come_in_order_with_cause_and_effect():
    spec = SceneSpec(
        objects=[ObjectSpec("circle", "blue", "small", x=0.2, y=0.5, vx=0.3), ObjectSpec("square", "red", x=0.8, y=0.2001)],
        rules=[Rule(target=1, color="yellow")],
    )  # the ball lands first, then bounces on into the square
    spec, traj = _clip(spec)
    caption = caption_clip(spec, traj)
    assert "the blue ball hits the red square, which turns yellow" in caption
    assert caption.index("lands on the floor") < caption.index("hits the red square")
    meaning = read_prompt(caption)
    assert meaning.hits == [(0, 1)] and meaning.rules == [(1, "yellow")]


def test_occluder_camera_and_background_are_described():
    spec, traj = _clip(parse_prompt("a small metal ball rolls behind a grey pillar at dusk", seed=1))
    caption = caption_clip(spec, traj)
    assert "passes behind a grey pillar" in caption and "dusk background" in caption
    spec, traj = _clip(parse_prompt("the camera pans left over two green balls"))
    assert "camera pans to the left" in caption_clip(spec, traj)


def test_rules_on_recoloured_objects_are_named_by_first_colour():
    spec = SceneSpec(
        objects=[ObjectSpec("circle", "red", x=0.2, y=0.2001, vx=0.8), ObjectSpec("square", "blue", x=0.6, y=0.2001)],
        rules=[Rule(target=1, color="green")],
    )
    caption = caption_clip(*_clip(spec)).lower()
    assert "the red ball hits the blue square, which turns green" in caption


@pytest.mark.parametrize("seed", range(25))
def test_short_prompts_parse_back_to_their_main_group(seed):
    spec, traj = _clip(sample_scene(seed))
    prompts = short_prompts(spec, traj, n=3, seed=seed)
    assert 1 <= len(prompts) <= 3 and len(set(prompts)) == len(prompts)
    for prompt in prompts:
        back = parse_prompt(prompt, width=spec.width, height=spec.height, seed=seed)
        groups = read_prompt(prompt).groups
        look = (groups[0].shape, groups[0].color)
        asked = sum(g.count or 1 for g in groups if (g.shape, g.color) == look)
        assert sum((o.shape, o.color) == look for o in spec.objects) >= asked, "the prompt describes the clip"
        assert sum((o.shape, o.color) == look for o in back.objects) == asked, "and parses back to it"


def test_short_prompts_vary_with_the_seed():
    spec, traj = _clip(parse_prompt("three red balls bounce to the right"))
    assert re.match(r"(three|3) red (rubber )?(balls|spheres|circles) bounce", short_prompts(spec, traj, n=1)[0])
    variants = {p for s in range(8) for p in short_prompts(spec, traj, n=3, seed=s)}
    assert len(variants) >= 4
    for prompt in variants:
        spec_back = parse_prompt(prompt)
        assert [(o.shape, o.color) for o in spec_back.objects[:3]] == [("circle", "red")] * 3


def test_entering_and_leaving_are_described():
    spec, traj = _clip(parse_prompt("a red ball enters from the left", seed=1))
    assert "rolls in from the left" in caption_clip(spec, traj)
    spec, traj = _clip(parse_prompt("a blue box slides to the right and leaves the view", seed=1))
    caption = caption_clip(spec, traj)
    assert "leaves the view on the right" in caption
    assert read_prompt(caption).groups[0].leave == "right"
