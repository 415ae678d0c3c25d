"""Storyboards: a window of a simulated clip is captioned as a clip that showed only it."""

from __future__ import annotations

import numpy as np
import pytest

from minisora.world import ObjectSpec, SceneSpec, simulate
from minisora.world.captions import caption_clip
from minisora.world.prompt import parse_prompt, read_prompt
from minisora.world.sampler import sample_scene
from minisora.world.storyboard import caption_windows, lengthen, window


def _falling_ball(seconds: float = 8.0) -> SceneSpec:
    """A wood ball dropped from the air: it lands and comes to rest before 2 s."""
    return SceneSpec(duration=seconds, objects=[ObjectSpec(color="red", material="wood", x=0.5, y=0.8)])


@pytest.mark.parametrize("seed", range(8))
def test_the_whole_window_is_the_whole_clip(seed):
    spec = sample_scene(seed)
    traj = simulate(spec)
    assert caption_windows(spec, traj, [(0, len(traj.times))]) == [caption_clip(spec, traj)]


def test_a_window_restarts_the_clock_and_keeps_only_its_events():
    spec = _falling_ball()
    traj = simulate(spec)
    part, sliced = window(spec, traj, 48, 113)
    assert sliced.times[0] == 0 and len(sliced.times) == 65 and part.duration == pytest.approx(4.0)
    assert all(0 <= c.time <= sliced.times[-1] for c in sliced.contacts)
    assert len(sliced.contacts) == sum(1 for c in traj.contacts if traj.times[48] <= c.time <= traj.times[112])
    assert part.objects[0].y == pytest.approx(traj.positions[48, 0, 1])


def test_a_ball_that_has_landed_rests_in_a_later_window():
    spec = _falling_ball()
    traj = simulate(spec)
    first, late = caption_windows(spec, traj, [(0, 25), (48, 113)])
    assert "lands on the floor" in first and "rest" not in first
    assert "rests on the floor" in late and "lands" not in late
    assert [g.count or 1 for g in read_prompt(late).groups] == [1]  # still the one red ball


def test_a_colour_changed_by_a_rule_is_the_colour_of_later_windows():
    spec = parse_prompt("a red ball hits a blue square which turns yellow", duration=8.0, seed=0)
    traj = simulate(spec)
    assert traj.color_changes, "the scene must hit the square"
    changed = traj.color_changes[0][0]
    later = int(changed * spec.fps) + 2
    first, after = caption_windows(spec, traj, [(0, later), (later, later + 65)])
    assert "blue" in first and "turns yellow" in first
    assert "yellow" in after and "blue" not in after and "turns" not in after


def test_windows_outside_the_clip_are_refused():
    spec = _falling_ball(2.0)
    traj = simulate(spec)
    with pytest.raises(ValueError, match="not inside"):
        window(spec, traj, 10, 40)
    with pytest.raises(ValueError, match="not inside"):
        window(spec, traj, 5, 5)


@pytest.mark.parametrize("prompt", ["three balls bounce to the right", "the camera pans left over two red squares",
                                    "the camera pans right over a blue ball"])
def test_a_lengthened_scene_starts_as_the_short_clip(prompt):
    short = parse_prompt(prompt, width=112, height=64, duration=4.0, seed=1)
    longer = lengthen(short, 60.0)
    traj_short, traj_long = simulate(short), simulate(longer)
    assert len(traj_long.times) == 961
    view = traj_long.positions[0, :, 0] - traj_long.camera_x[0]
    np.testing.assert_allclose(view, traj_short.positions[0, :, 0] - traj_short.camera_x[0])
    first = caption_windows(longer, traj_long, [(0, 65)])[0]
    if not short.camera_pan:  # the same walls: the same first four seconds
        assert first == caption_clip(short, traj_short)
