"""Layout: a prompt's meaning -> positions and velocities whose simulation shows what it says.

Realise, then verify: the plan (`plan.py`) decides what the text leaves open; objects
are placed by rejection sampling under the prompt's constraints (direction of travel, relation
bands, who hits whom), the scene is simulated, and a checker confirms that each clause really
happens (a "bouncing" ball touches the floor twice, "rolls to the left" moves left on the
floor, "hits" makes a contact, the colour rule fires, the object passes behind its occluder).
A failed check draws a new layout from the next attempt's generator; the first that passes is
returned, so the result is deterministic from the seed.
"""

from __future__ import annotations

import math

import numpy as np

from minisora.world import vocabulary as V
from minisora.world.physics import Trajectory, signed_distance, simulate
from minisora.world.plan import GAP, ScenePlan, bounce_speed
from minisora.world.prompt import PromptError, PromptMeaning
from minisora.world.spec import GRAVITY, MATERIALS, ObjectSpec, Occluder, Rule, SceneSpec
from minisora.world.verify import check

ATTEMPTS = 8  # layouts tried per plan
PLAN_VARIANTS = 3  # plans tried (they differ only in what the text leaves open)
PLACE_TRIES = 30  # positions drawn per object before the layout is given up
FLOOR_MOTIONS = ("roll", "slide", "rest")


def realise(
    meaning: PromptMeaning, *, width: int, height: int, fps: int, duration: float, seed: int, text: str = "",
    attempts: int = ATTEMPTS, variants: int = PLAN_VARIANTS,
) -> SceneSpec:
    """The first layout (from the seed) whose simulation passes every check of the meaning.

    `attempts` layouts are tried for each of `variants` plans; the sampler, which can simply
    draw another scene, asks for few."""
    SceneSpec(width=width, height=height, fps=fps, duration=duration).validate()  # canvas errors first
    failures: list[str] = []
    for variant in range(variants):  # what the text leaves open may be redrawn, what it says never
        plan = ScenePlan(meaning, np.random.default_rng([seed, 7, variant]), duration, width / min(width, height))
        spec = SceneSpec(width=width, height=height, fps=fps, duration=duration, background=plan.background,
                         ground=meaning.ground, walls=plan.walls, camera_pan=plan.camera_pan, seed=seed)
        _check_room(plan, spec)
        for attempt in range(attempts):
            rng = np.random.default_rng([seed, variant, attempt])
            placed = _place(plan, spec, rng)
            if placed is None:
                failures = failures or ["the objects do not fit the view"]
                continue
            spec.objects = placed
            spec.occluders, spec.rules = [], [Rule(target=k, color=c) for k, c in plan.rules]
            traj = simulate(spec)
            spec.occluders = _place_occluders(plan, spec, traj, rng)
            failures = check(plan, spec, traj)
            if not failures:
                return spec.validate()
    raise PromptError(f"could not lay out a scene for {text or 'the prompt'!r} that shows it ({'; '.join(failures)}); "
                      f"try fewer or smaller objects, or another seed")


def _check_room(plan: ScenePlan, spec: SceneSpec) -> None:
    """Objects end up side by side on the floor, and travel needs room: refuse early when they cannot."""
    if spec.floor is None:
        if plan.hits:
            raise PromptError("with no ground everything falls at the same pace, so nothing can hit anything: "
                              "drop 'no ground'")
        return
    row = plan.row_needed()
    if row > spec.world_width - GAP:
        raise PromptError(
            f"{len(plan.objects)} objects of these sizes and motions need {row:.2f} units side by side but the "
            f"{spec.width}x{spec.height} view is {spec.world_width:.2f} wide: use fewer or smaller objects, "
            f"or a wider size such as {round(spec.height * 1.75 / 16) * 16}x{spec.height}"
        )


# -- placement -------------------------------------------------------------------------------------
def _place(plan: ScenePlan, spec: SceneSpec, rng: np.random.Generator) -> list[ObjectSpec] | None:
    """Positions and velocities for every object, or None when they do not fit this time."""
    stage = (0.0, spec.world_width)
    bands = _relation_bands(plan, stage)
    pace = rng.uniform(size=len(plan.groups))
    placed: dict[int, ObjectSpec] = {}
    for k in _placement_order(plan):
        for _ in range(PLACE_TRIES):
            obj = _place_one(plan, spec, k, placed, bands, stage, pace, rng)
            if obj is not None and all(_clear(obj, other) for other in placed.values()):
                placed[k] = obj
                break
        else:
            return None
    return [placed[k] for k in range(len(plan.objects))]


def _placement_order(plan: ScenePlan) -> list[int]:
    """Targets of hits and the lower side of 'above' first: the others are placed against them."""
    later = {h for h, _ in plan.hits if h != -1} | {a for a, r, _ in plan.m.relations if r == "above"}
    later |= {b for _, r, b in plan.m.relations if r == "below"}
    first = [k for k, g in enumerate(plan.group_of) if g not in later]
    return first + [k for k, g in enumerate(plan.group_of) if g in later]


def _relation_bands(plan: ScenePlan, stage: tuple[float, float]) -> dict[int, tuple[float, float]]:
    """Groups in left/right relations get vertical bands of the stage in their order."""
    edges = [(a, b) if r == "left_of" else (b, a) for a, r, b in plan.m.relations if r in ("left_of", "right_of")]
    if not edges:
        return {}
    layer = {g: 0 for e in edges for g in e}
    for _ in range(len(layer)):
        for a, b in edges:
            layer[b] = max(layer[b], layer[a] + 1)
    n = max(layer.values()) + 1
    width = (stage[1] - stage[0]) / n
    return {g: (stage[0] + k * width, stage[0] + (k + 1) * width) for g, k in layer.items()}


def _place_one(plan, spec, k, placed, bands, stage, pace, rng) -> ObjectSpec | None:
    """One object's start: its motion sets height and velocity, the constraints its x."""
    gi, g = plan.group_of[k], plan.groups[plan.group_of[k]]
    base = plan.objects[k]
    obj = ObjectSpec(base.shape, base.color, base.size, base.material)
    motion, direction, enter = plan.motions[gi], plan.directions[gi], plan.enters[gi]
    lo, hi = bands.get(gi, stage)
    lo, hi = max(lo, stage[0]) + obj.half + GAP, min(hi, stage[1]) - obj.half - GAP
    if hi < lo:
        return None
    lo, hi = _leave_room_for_hitters(plan, gi, lo, hi)
    sign = {"left": -1.0, "right": 1.0}.get(direction or "", 0.0)
    travel = _launch(obj, motion, sign, spec, plan.duration, g.speed, pace[gi], rng)
    row = (g.count - 1) * (2 * obj.half + GAP)  # the group side by side needs this much room
    lo, hi = _leave_travel_room(lo, hi, sign, travel, row)
    obj.x = rng.uniform(*_cell(lo, hi, plan.members[gi].index(k), g.count, 2 * obj.half + GAP))
    targets = _hit_target(plan, gi, k, placed)
    if enter:
        return _enter(obj, motion, enter, plan.members[gi].index(k), targets, spec, plan.duration, g.speed, rng)
    if plan.leaves[gi] in ("left", "right"):
        return _leave(obj, motion, plan.leaves[gi], spec, plan.duration)
    if targets is not None:
        return _aim(obj, motion, *targets, direction, spec, stage, rng)
    under = [placed[j] for a, r, b in plan.m.relations if r in ("above", "below")
             for j in plan.members[b if r == "above" else a] if gi == (a if r == "above" else b) and j in placed]
    if under:
        return _stack(obj, under, plan.members[gi].index(k), spec, rng)
    return obj


def _launch(obj, motion, sign, spec, duration, speed, pace, rng) -> float:
    """Set height and velocity for the motion; return the sideways travel it needs room for.
    `pace` in [0, 1) is drawn once per group, so that a group moves together, not into itself."""
    floor = spec.floor if spec.floor is not None else 0.0
    top = spec.view_height - obj.half - 0.02
    obj.y = floor + obj.half + 1e-4
    if motion in ("roll", "slide"):
        travel = (0.35 + 0.2 * pace) * spec.view_width * speed
        obj.vx = sign * _launch_speed(obj, travel)
        return travel
    if motion == "bounce":
        obj.y = rng.uniform(max(floor + obj.half + 0.25, 0.45 * spec.view_height), max(top, 0.5))
        # two landings must fit in the clip: the first after t1, the second after t1 * (1 + 2e)
        e = MATERIALS[obj.material].restitution
        t1 = 0.8 * duration / (1 + 2 * e)
        obj.y = min(obj.y, floor + obj.half + max(0.5 * GRAVITY * t1 * t1, 0.05))
        obj.vx = sign * bounce_speed(spec.view_width, duration) * speed
        return abs(obj.vx) * duration / 2
    if motion == "fall":
        obj.y = top - rng.uniform(0.0, 0.08)
        obj.vx = sign * 0.1 * speed
        return abs(obj.vx) * duration / 2
    if motion == "fly":
        obj.y = floor + obj.half + 0.02
        rise = min((0.35 + 0.2 * pace) * spec.view_height, top - obj.y)
        obj.vy = math.sqrt(2 * GRAVITY * max(rise, 0.1)) * min(speed, 1.0)
        travel = (0.3 + 0.15 * pace) * spec.view_width * speed
        obj.vx = sign * travel / (2 * obj.vy / GRAVITY)
        return travel
    return 0.0  # rest: a direction names the side it rests on (see _leave_travel_room)


def _leave_travel_room(lo: float, hi: float, sign: float, travel: float, row: float) -> tuple[float, float]:
    """Start far enough from the wall ahead to travel, keeping room for the group's row."""
    if sign == 0:
        return lo, hi
    if travel == 0:  # "rests on the left": the third on that side, or as much as the row needs
        width = max((hi - lo) / 3, row)
        return (lo, min(lo + width, hi)) if sign < 0 else (max(hi - width, lo), hi)
    travel = max(min(travel, hi - lo - row), 0.0)
    return (lo, max(hi - travel, lo)) if sign > 0 else (min(lo + travel, hi), hi)


def _enter(obj, motion, side, position, targets, spec, duration, speed, rng) -> ObjectSpec:
    """Start outside the first frame on `side`, moving in (towards a target, if it has one)."""
    sign = -1.0 if side == "left" else 1.0
    gap = rng.uniform(0.03, 0.12) + position * (2 * obj.half + GAP + 0.05)
    view_lo = spec.camera_start
    obj.x = view_lo - obj.half - gap if sign < 0 else view_lo + spec.view_width + obj.half + gap
    distance = 0.5 * spec.view_width + obj.half + gap
    if targets is not None:
        target = min(targets[0], key=lambda t: abs(t.x - obj.x))
        distance = abs(target.x - obj.x) - target.half - obj.half + 0.05
    if motion in FLOOR_MOTIONS:
        obj.vx = -sign * _launch_speed(obj, distance * speed, arrive=0.3 if targets else 0.0)
    elif motion == "fly":  # thrown in from the side: it lands about `distance` in
        obj.vx = -sign * distance / (2 * obj.vy / GRAVITY)
    else:
        obj.vx = -sign * distance / (0.5 * duration) * speed
    return obj


def _leave(obj: ObjectSpec, motion: str, side: str, spec: SceneSpec, duration: float) -> ObjectSpec:
    """Fast enough to be out of the view (which may pan) by the end, through `side`."""
    sign = -1.0 if side == "left" else 1.0
    view_end = spec.camera_start + spec.camera_pan * duration
    edge = view_end if sign < 0 else view_end + spec.view_width
    distance = sign * (edge - obj.x) + obj.half + 0.1
    if motion in FLOOR_MOTIONS:
        obj.vx = sign * _launch_speed(obj, distance, arrive=0.2)
    elif motion == "fly":
        obj.vx = sign * max(distance / duration, abs(obj.vx))
    else:
        obj.vx = sign * distance / (0.7 * duration)
    return obj


def _stack(obj: ObjectSpec, under: list[ObjectSpec], position: int, spec: SceneSpec, rng) -> ObjectSpec | None:
    """Start above one of the objects it is said to be above (a column of them when they are
    more), falling onto it."""
    base = under[position % len(under)]
    level = position // len(under)
    obj.x = base.x + rng.uniform(-0.5, 0.5) * base.half
    obj.y = base.y + base.half + obj.half + rng.uniform(0.05, 0.2) + level * (2 * obj.half + GAP + 0.02)
    obj.vx = obj.vy = 0.0
    return obj if obj.y <= spec.view_height - obj.half - 0.02 + 1e-9 else None


def _leave_room_for_hitters(plan: ScenePlan, gi: int, lo: float, hi: float) -> tuple[float, float]:
    """A target whose hitters all come from one side stands in the other 60% of the range."""
    sides = {plan.directions[h] for h, t in plan.hits if t == gi and h != gi}
    if sides == {"left"}:  # hitters move left, so they start on the right
        return lo, lo + 0.6 * (hi - lo)
    if sides == {"right"}:
        return hi - 0.6 * (hi - lo), hi
    return lo, hi


def _cell(lo: float, hi: float, i: int, n: int, room: float) -> tuple[float, float]:
    """The i-th of n equal cells of [lo, hi] for centres of objects that need `room` each."""
    width = (hi - lo + room) / n
    start = lo + i * width
    return start, max(start, start + width - room)


def _launch_speed(obj: ObjectSpec, travel: float, arrive: float = 0.0) -> float:
    """Speed along the floor that friction brings to `arrive` after `travel` units."""
    friction = MATERIALS[obj.material].friction * (0.1 if obj.shape == "circle" else 1.0)
    return math.sqrt(arrive**2 + 2 * friction * GRAVITY * max(travel, 0.0))


def _hit_target(plan: ScenePlan, gi: int, k: int, placed: dict[int, ObjectSpec]) -> tuple[list[ObjectSpec], int] | None:
    """The placed objects this hitter may aim at, and how many of its group aim before it."""
    position = plan.members[gi].index(k)
    for hitter, target in plan.hits:
        if hitter != gi:
            continue
        if target is None:  # "two balls collide": each odd member aims at its even neighbour
            partner = plan.members[gi][position ^ 1] if (position ^ 1) < len(plan.members[gi]) else None
            return ([placed[partner]], 0) if partner in placed else None
        candidates = [placed[j] for j in plan.members[target] if j in placed]
        if candidates:
            return candidates, position
    return None


def _aim(obj, motion, targets, position, direction, spec, stage, rng) -> ObjectSpec | None:
    """Put a hitter on one side of its targets, moving at them fast enough to arrive with a bang."""
    sides = {"right": [-1.0], "left": [1.0]}.get(direction or "", [-1.0, 1.0])
    side = sides[int(rng.integers(len(sides)))] if len(sides) == 1 or position == 0 else (-1.0, 1.0)[position % 2]
    target = max(targets, key=lambda t: side * t.x)  # the outermost on the hitter's side
    if target.vx:  # a moving target is met head-on
        side = math.copysign(1.0, target.vx)
    queue = position // (2 if len(sides) == 2 else 1)  # hitters on one side line up behind each other
    queue_gap = queue * (2 * obj.half + GAP + 0.05)
    if motion == "fall":
        obj.x = target.x + rng.uniform(-0.4, 0.4) * target.half
        obj.y -= queue * (2 * obj.half + GAP)
        obj.vx = 0.0
        return obj if obj.y > target.y + target.half + obj.half + GAP else None
    # room to run up, so that the clip shows the moment before the hit: as much as fits, <= 0.45
    limit = (stage[1] - obj.half - GAP - target.x) if side > 0 else (target.x - stage[0] - obj.half - GAP)
    room = limit - target.half - obj.half - queue_gap
    if room < 0.1:
        return None
    gap = rng.uniform(0.1, min(room, 0.45))
    gap = max(gap, min(room, 0.25))
    obj.x = target.x + side * (target.half + obj.half + gap + queue_gap)
    distance = gap + queue_gap + 0.02
    when = rng.uniform(0.6, 1.3)  # seconds until the hit
    if motion in FLOOR_MOTIONS:
        friction = MATERIALS[obj.material].friction * (0.1 if obj.shape == "circle" else 1.0) * GRAVITY
        speed = distance / when + friction * when / 2
        if speed - friction * when < 0.3:  # friction would stop it short: arrive at 0.3 instead
            speed = _launch_speed(obj, distance, arrive=0.3)
        obj.vx = -side * speed
    elif motion == "fly":
        flight = 2 * obj.vy / GRAVITY
        obj.vx = -side * (distance + obj.half + target.half) / flight
    else:  # bouncing: low, so that it meets the target rather than jumping over it
        obj.y = min(obj.y, target.y + target.half + obj.half + 0.2)
        obj.vx = -side * max(distance / when, 0.3)
    return obj


def _clear(a: ObjectSpec, b: ObjectSpec) -> bool:
    gap, _ = signed_distance((a.x, a.y), a.half, a.shape == "circle", (b.x, b.y), b.half, b.shape == "circle")
    return gap >= GAP - 1e-9


# -- occluders -------------------------------------------------------------------------------------
def _place_occluders(plan: ScenePlan, spec: SceneSpec, traj: Trajectory, rng: np.random.Generator) -> list[Occluder]:
    occluders = []
    for text in plan.m.occluders:
        width, height = V.OCCLUDER_SHAPES[text.kind]
        height = min(height, spec.view_height)
        members = [k for g in text.subject for k in plan.members[g]]
        if members:
            x = _behind_path(traj.positions[:, members[0], 0], spec.objects[members[0]].half, width)
        else:
            x = spec.camera_start + spec.view_width * rng.uniform(0.3, 0.7) - width / 2
        x = float(np.clip(x, 0.0, spec.world_width - width))
        occluders.append(Occluder(x=x, y=0.0, width=width, height=height, color=V.OCCLUDER_COLORS[text.color]))
    return occluders


def _behind_path(xs: np.ndarray, half: float, width: float) -> float:
    """Left edge of an occluder that the object at xs passes behind, seen before it goes in."""
    path = np.concatenate([[0.0], np.cumsum(np.abs(np.diff(xs)))])
    if path[-1] < 0.15:  # it stays put: stand in front of it
        return float(xs[0]) - width / 2
    centre = float(xs[int(np.searchsorted(path, 0.5 * path[-1]))])
    heading = np.sign(xs[min(len(xs) - 1, int(np.searchsorted(path, 0.5 * path[-1])))] - xs[0]) or 1.0
    if heading > 0:  # keep the start in view, so that it is seen going in
        return max(centre - width / 2, float(xs[0]) + half + 0.01)
    return min(centre - width / 2, float(xs[0]) - half - 0.01 - width)
