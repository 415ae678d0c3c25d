"""Verification: does a simulated scene show what the prompt's meaning says?

The layout draws positions and velocities, simulates, and keeps a draw only when every clause
holds in the trajectory: a "bouncing" object touches the floor at least twice, "rolls to the
left" stays on the floor and moves left until it first meets something, "falls" drops, "flies"
rises, "enters" starts outside the first frame and comes in, relations hold at the start,
"hits" makes a contact between the named groups, colour rules fire, and an object said to pass
behind an occluder is behind it in some frames and not in all.
"""

from __future__ import annotations

import math

import numpy as np

from minisora.world.physics import Trajectory
from minisora.world.plan import ScenePlan
from minisora.world.spec import SceneSpec


def check(plan: ScenePlan, spec: SceneSpec, traj: Trajectory) -> list[str]:
    """What of the plan the simulation does not show (empty when it shows everything)."""
    floor_hits: dict[int, int] = {}
    first_knock: dict[int, float] = {}  # first contact with a wall or another object
    for c in traj.contacts:
        if c.b == "floor":
            floor_hits[c.a] = floor_hits.get(c.a, 0) + 1
            continue
        for k in (c.a, c.b):
            if isinstance(k, int):
                first_knock.setdefault(k, c.time)
    failures = []
    for k in range(len(spec.objects)):
        failures += _check_object(plan, spec, traj, k, floor_hits.get(k, 0), first_knock.get(k, math.inf))
    return failures + _check_relations(plan, spec) + _check_events(plan, traj) + _check_occluders(plan, spec, traj)


def _check_object(plan: ScenePlan, spec: SceneSpec, traj: Trajectory, k: int, bounces: int,
                  first_knock: float) -> list[str]:
    """The motion, direction and entrance of object k."""
    failures = []
    obj, gi = spec.objects[k], plan.group_of[k]
    motion, direction = plan.motions[gi], plan.directions[gi]
    xs, ys = traj.positions[:, k, 0], traj.positions[:, k, 1]
    half_frame = len(traj.times) // 2
    horizon = half_frame if math.isinf(first_knock) else min(half_frame, int(first_knock * spec.fps))
    if motion == "bounce" and bounces < 2:
        failures.append(f"object {k} does not bounce")
    if motion in ("roll", "slide") and abs(ys[: max(half_frame // 2, 2)] - ys[0]).max() > 0.01:
        failures.append(f"object {k} leaves the floor")
    aimed = any(h == gi for h, _ in plan.hits) and plan.groups[gi].direction is None
    if direction in ("left", "right") and motion not in ("fall", "rest") and not aimed:
        moved = xs[horizon] - xs[0] if horizon > 1 else traj.velocities[0, k, 0]  # knocked at once: set-off
        sign = 1 if direction == "right" else -1
        if sign * moved < (0.05 if horizon >= half_frame else 0.0):
            failures.append(f"object {k} does not move {direction}")
    drop = 0.02 if plan.is_over(gi) else 0.2  # stacked objects fall only onto what is under them
    if motion == "fall" and ys[0] - ys[half_frame] < drop:
        failures.append(f"object {k} does not fall")
    if motion == "fly" and ys.max() < ys[0] + 0.15:
        failures.append(f"object {k} does not fly up")
    inside = (xs - obj.half >= traj.camera_x - 1e-9) & (xs + obj.half <= traj.camera_x + spec.view_width + 1e-9)
    if plan.enters[gi] is None and not spec.camera_pan and not inside[0]:
        failures.append(f"object {k} starts outside the view")
    if plan.enters[gi] is not None and (inside[0] or not inside.any()):
        failures.append(f"object {k} does not enter the view")
    if plan.leaves[gi] is not None:
        gone = {"left": xs[-1] + obj.half <= traj.camera_x[-1], "bottom": ys[-1] + obj.half <= 0,
                "right": xs[-1] - obj.half >= traj.camera_x[-1] + spec.view_width}[plan.leaves[gi]]
        if not gone:
            failures.append(f"object {k} does not leave the view on the {plan.leaves[gi]}")
    return failures


def _check_relations(plan: ScenePlan, spec: SceneSpec) -> list[str]:
    failures = []
    for a, kind, b in plan.m.relations:
        xa = [spec.objects[k].x for k in plan.members[a]]
        xb = [spec.objects[k].x for k in plan.members[b]]
        ya = [spec.objects[k].y for k in plan.members[a]]
        yb = [spec.objects[k].y for k in plan.members[b]]
        ok = {"left_of": max(xa) < min(xb), "right_of": min(xa) > max(xb),
              "above": min(ya) > max(yb), "below": max(ya) < min(yb)}[kind]
        if not ok:
            failures.append(f"group {a} is not {kind} group {b}")
    return failures


def _check_events(plan: ScenePlan, traj: Trajectory) -> list[str]:
    failures = []
    pairs = {(c.a, c.b) for c in traj.contacts if isinstance(c.b, int)}
    pairs |= {(b, a) for a, b in pairs}
    for hitter, target in plan.hits:
        goal = plan.members[target] if target is not None else plan.members[hitter]
        if not any((h, t) in pairs for h in plan.members[hitter] for t in goal if h != t):
            failures.append(f"group {hitter} never hits group {target}")
    changed = {k for _, k, _ in traj.color_changes}
    for gi, _ in plan.rule_groups:  # "the boxes turn blue when hit": at least one is hit
        if not changed & set(plan.members[gi]):
            failures.append(f"group {gi} never changes colour")
    return failures


def _check_occluders(plan: ScenePlan, spec: SceneSpec, traj: Trajectory) -> list[str]:
    failures = []
    for occ, text in zip(spec.occluders, plan.m.occluders):
        for g in text.subject:
            k = plan.members[g][0]
            xs, half = traj.positions[:, k, 0], spec.objects[k].half
            behind = (xs + half > occ.x) & (xs - half < occ.x + occ.width)
            moving = np.ptp(xs) > 0.15
            if not behind.any() or (moving and behind.all()):
                failures.append(f"object {k} does not pass behind the {text.kind}")
    return failures
