"""Storyboards: one caption per window of a long clip, read off a single simulation.

The world model trained on 4 s clips whose captions describe those 4 s. A long video is made
chunk by chunk, and conditioning every chunk on the first 4 s caption asks each one to replay
its events ("the balls land on the floor") while its context shows them already at rest: the
model then drops in new objects to land. A storyboard simulates the scene once over the whole
length and captions each chunk's window from what happens in it, as multi-prompt long-video
generators (Phenaki's prompt sequences, storyboard prompting) give each segment its own text.
"""

from __future__ import annotations

import dataclasses

from minisora.world.captions import caption_clip
from minisora.world.physics import Trajectory
from minisora.world.spec import SceneSpec


def lengthen(spec: SceneSpec, duration: float) -> SceneSpec:
    """The same scene run for `duration` seconds: laid out as it is (for the first chunk's length,
    so the first window is the clip a short generation would make), left to the physics after.
    A left pan's view starts at the far wall, which moves out with the length: everything shifts
    with it, so the view starts on the same scene."""
    longer = dataclasses.replace(spec, duration=duration)
    shift = longer.camera_start - spec.camera_start
    if shift:
        longer.objects = [dataclasses.replace(o, x=o.x + shift) for o in spec.objects]
        longer.occluders = [dataclasses.replace(o, x=o.x + shift) for o in spec.occluders]
    return longer.validate()


def window(spec: SceneSpec, traj: Trajectory, start: int, stop: int) -> tuple[SceneSpec, Trajectory]:
    """The scene as it stands from frame `start` (inclusive) to `stop` (exclusive), its clock
    restarted at 0: objects where and as they are at `start` (colours changed by rules
    included), contacts and colour changes of the window only.

    Under a camera pan the spec's derived camera start is that of a clip of the window's
    length, so an occluder's place ("on the left") may be named for the wrong third."""
    if not 0 <= start < stop <= len(traj.times):
        raise ValueError(f"window [{start}, {stop}) is not inside the clip's {len(traj.times)} frames")
    t0, t1 = float(traj.times[start]), float(traj.times[stop - 1])
    objects = [dataclasses.replace(obj, x=float(traj.positions[start, k, 0]), y=float(traj.positions[start, k, 1]),
                                   vx=float(traj.velocities[start, k, 0]), vy=float(traj.velocities[start, k, 1]),
                                   color=traj.colors[start][k])
               for k, obj in enumerate(spec.objects)]
    part = dataclasses.replace(spec, objects=objects, duration=(stop - 1 - start) / spec.fps)
    sliced = Trajectory(
        times=traj.times[start:stop] - t0,
        positions=traj.positions[start:stop],
        velocities=traj.velocities[start:stop],
        colors=traj.colors[start:stop],
        camera_x=traj.camera_x[start:stop],
        contacts=[dataclasses.replace(c, time=c.time - t0) for c in traj.contacts if t0 <= c.time <= t1],
        color_changes=[(t - t0, k, c) for t, k, c in traj.color_changes if t0 <= t <= t1],
    )
    return part, sliced


def caption_windows(spec: SceneSpec, traj: Trajectory, windows: list[tuple[int, int]]) -> list[str]:
    """The caption of each (start, stop) frame window, as `caption_clip` would write it for a
    clip that showed only that window."""
    return [caption_clip(*window(spec, traj, start, stop)) for start, stop in windows]

