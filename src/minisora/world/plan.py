"""The plan of a scene: what the prompt says, with everything it leaves open decided.

Before anything is placed, each group gets its count, shape, colour, size and material, a
motion and a direction, the sides it enters or leaves by, and the scene its background, walls
and camera. Open choices are drawn from the seed and suit what was said (a rolling object
defaults to rubber, wood or metal; a target of a hit rests; "balls" are two or three, fewer
when they would not fit side by side). The layout (`layout.py`) then places the plan's objects.
"""

from __future__ import annotations

import numpy as np

from minisora.world import vocabulary as V
from minisora.world.prompt import Group, PromptError, PromptMeaning
from minisora.world.spec import BACKGROUNDS, MATERIALS, PALETTE, SHAPES, SIZES, ObjectSpec

GAP = 0.02  # units of clearance between objects at the start
PAN_SPEED = 0.12  # units / s
MOTION_MATERIALS = {  # defaults that make the motion read well: rubber bounces, glass slides far
    "bounce": ("rubber", "rubber", "glass"), "roll": ("rubber", "wood", "metal"),
    "slide": ("glass", "metal", "wood"), "fall": tuple(MATERIALS), "fly": ("rubber", "wood"),
    "rest": tuple(MATERIALS),
}


def bounce_speed(view_width: float, duration: float) -> float:
    """Sideways speed of a bouncing object: about half the view in the clip."""
    return float(np.clip(0.45 * view_width / duration, 0.06, 0.35))


class ScenePlan:
    """Everything decided before placement: each object's attributes, motion and direction."""

    def __init__(self, meaning: PromptMeaning, rng: np.random.Generator, duration: float, view_width: float) -> None:
        self.m, self.duration, self.view_width = meaning, duration, view_width
        groups = [_copy(g) for g in meaning.groups]
        self.hits = list(meaning.hits)
        self.rule_groups = list(meaning.rules)
        self._complete_hits(groups, rng)
        self.groups = groups
        counted = [g.count is not None for g in groups]
        for g in groups:
            g.count = g.count or (int(rng.integers(2, 4)) if g.plural else 1)
        total = sum(g.count for g in groups)
        if total > V.MAX_OBJECTS:
            raise PromptError(f"the prompt asks for {total} objects; a scene holds at most {V.MAX_OBJECTS}")
        sized = [g.size is not None for g in groups]
        self._fill_attributes(groups, rng)
        self.motions = [self._motion(i, g, rng) for i, g in enumerate(groups)]
        self.directions = [self._direction(i, g, rng) for i, g in enumerate(groups)]
        self.enters = [self._enter_side(g, rng) for g in groups]
        self.leaves = [self._leave_side(i, g, rng) for i, g in enumerate(groups)]
        self.background = meaning.background or str(rng.choice(list(BACKGROUNDS), p=[0.55, 0.15, 0.15, 0.15]))
        self.walls = meaning.walls and not any(self.enters) and not any(s in ("left", "right") for s in self.leaves)
        camera = meaning.camera if meaning.camera != "pending" else str(rng.choice(["left", "right"]))
        self.camera_pan = 0.0 if camera is None else PAN_SPEED * meaning.camera_speed * (1 if camera == "right" else -1)
        self._fit(counted, sized)
        self._build_objects(rng)

    def row_needed(self) -> float:
        """Floor width the scene needs: every unstacked object side by side, plus run-ups."""
        rel = self.m.relations
        stacked = {a for a, r, _ in rel if r == "above"} | {b for _, r, b in rel if r == "below"}
        row = sum(g.count * (2 * SIZES[g.size] + GAP) for gi, g in enumerate(self.groups) if gi not in stacked)
        reach = bounce_speed(self.view_width, self.duration) * self.duration / 2
        for gi, (motion, direction) in enumerate(zip(self.motions, self.directions)):
            if direction in ("left", "right") and not self.enters[gi]:
                row += {"roll": 0.1, "slide": 0.1, "bounce": reach}.get(motion, 0.0)
        return row + 0.12 * len(self.hits)

    def _fit(self, counted: list[bool], sized: list[bool]) -> None:
        """What the text left open gives way when the objects would not fit side by side:
        "balls" become two rather than three, then default sizes shrink."""
        width = self.view_width + abs(self.camera_pan) * self.duration
        while self.m.ground and self.row_needed() > width - GAP:
            crowds = [g for g, fixed in zip(self.groups, counted) if not fixed and g.count > 2]
            free = [g for g, fixed in zip(self.groups, sized) if not fixed and g.size != "small"]
            if crowds:
                crowds[0].count -= 1
            elif free:
                largest = max(free, key=lambda g: SIZES[g.size])
                largest.size = "medium" if largest.size == "large" else "small"
            else:
                return  # the counts and sizes were asked for: _check_room explains

    def _build_objects(self, rng: np.random.Generator) -> None:
        self.members: list[list[int]] = []  # object indices of each group
        self.objects: list[ObjectSpec] = []
        self.group_of: list[int] = []
        for gi, g in enumerate(self.groups):
            self.members.append(list(range(len(self.objects), len(self.objects) + g.count)))
            for color in self._member_colors(g, rng):
                self.objects.append(ObjectSpec(shape=g.shape, color=color, size=g.size, material=g.material))
                self.group_of.append(gi)
        self.rules = [(k, color) for gi, color in self.rule_groups for k in self.members[gi]]

    def _member_colors(self, g: Group, rng: np.random.Generator) -> list[str]:
        """One colour for the group, or, for "balls of different colours", one each."""
        if not g.mixed:
            return [g.color] * g.count
        free = [c for c in PALETTE if c not in self.taken]
        if len(free) < g.count - 1:
            raise PromptError(f"'{g.words}': not enough distinct colours left for {g.count} objects")
        others = [str(c) for c in rng.choice(free, size=g.count - 1, replace=False)]
        self.taken.update(others)
        return [g.color, *others]

    def _complete_hits(self, groups: list[Group], rng: np.random.Generator) -> None:
        """Every colour rule needs a hit, every hit a hitter and a target: add what is missing."""
        hit_targets = {b for _, b in self.hits if b is not None}
        for target, _ in self.rule_groups:
            if target not in hit_targets:
                self.hits.append((-1, target))
        completed = []
        for hitter, target in self.hits:
            if hitter == -1:
                others = [i for i in range(len(groups)) if i != target and all(b != i for _, b in self.hits)]
                hitter = others[0] if others else _append(groups, Group(count=1, shape="circle"))
            if target is None and (groups[hitter].count or 1) < 2 and not groups[hitter].plural:
                others = [i for i in range(len(groups)) if i != hitter]
                target = others[0] if others else _append(groups, Group(count=1))
            completed.append((hitter, target))
        self.hits = list(dict.fromkeys(completed))

    def _fill_attributes(self, groups: list[Group], rng: np.random.Generator) -> None:
        taken = self.taken = {g.color for g in groups if g.color}
        for index, color in self.rule_groups:
            if groups[index].color == color:
                raise PromptError(f"'{groups[index].words}' is {color} already, so it cannot turn {color}: "
                                  f"name another colour")
            if groups[index].color is None:  # its own colour is open: keep it from the new one
                taken.add(color)
        for g in groups:
            g.shape = g.shape or str(rng.choice(SHAPES))
            if g.color is None:
                free = [c for c in PALETTE if c not in taken] or list(PALETTE)
                g.color = str(rng.choice(free))
                taken.add(g.color)
            if g.size is None:
                sizes, p = (("small", "medium"), (0.5, 0.5)) if g.count >= 4 else (tuple(SIZES), (0.3, 0.5, 0.2))
                g.size = str(rng.choice(sizes, p=p))

    def _motion(self, index: int, g: Group, rng: np.random.Generator) -> str:
        horizontal = "roll" if g.shape == "circle" else "slide"
        motion, direction = g.motion, g.direction
        if motion == "move":
            motion = {"up": "fly", "down": "fall"}.get(direction or "", horizontal)
        if motion is None:
            if any(h == index for h, _ in self.hits) or g.enter or (g.leave and self.m.ground):
                motion = horizontal
            elif any(t == index for _, t in self.hits) or self.is_under(index):
                motion = "rest"
            elif self.is_over(index):
                motion = "fall"
            elif direction in ("up", "down"):
                motion = "fly" if direction == "up" else "fall"
            elif any(index in (a, b) for a, _, b in self.m.relations) or self.m.camera:
                motion = str(rng.choice(["rest", "bounce"]))
            elif direction is not None:
                motion = str(rng.choice(["bounce", horizontal]))
            else:
                motion = str(rng.choice(["bounce", horizontal, "fall", "rest"], p=[0.35, 0.3, 0.2, 0.15]))
            if not self.m.ground and motion in ("bounce", "roll", "slide", "rest"):
                motion = "fall"
        elif not self.m.ground and motion in ("bounce", "roll", "slide", "rest"):
            raise PromptError(f"'{g.words}' cannot {motion} with no ground: drop 'no ground' or let it fall")
        if g.material is None:
            g.material = str(rng.choice(MOTION_MATERIALS[motion]))
        return motion

    @staticmethod
    def _enter_side(g: Group, rng: np.random.Generator) -> str | None:
        """'enters' alone picks a side; 'enters to the right' comes in from the left."""
        if g.enter != "pending":
            return g.enter
        if g.direction in ("left", "right"):
            return "left" if g.direction == "right" else "right"
        return str(rng.choice(["left", "right"]))

    def is_under(self, index: int) -> bool:
        rel = self.m.relations
        return any(b == index and r == "above" or a == index and r == "below" for a, r, b in rel)

    def is_over(self, index: int) -> bool:
        rel = self.m.relations
        return any(a == index and r == "above" or b == index and r == "below" for a, r, b in rel)

    def _leave_side(self, index: int, g: Group, rng: np.random.Generator) -> str | None:
        """'leaves the view': on the side it travels to; with no ground, at the bottom."""
        if g.leave is None:
            return None
        if g.leave != "pending":
            return g.leave
        if self.directions[index] in ("left", "right"):
            return self.directions[index]
        return "bottom" if not self.m.ground else str(rng.choice(["left", "right"]))

    def _direction(self, index: int, g: Group, rng: np.random.Generator) -> str | None:
        motion, direction = self.motions[index], g.direction
        if direction is None and g.enter in ("left", "right"):
            return "right" if g.enter == "left" else "left"
        if direction is None and g.leave in ("left", "right"):
            return g.leave
        if motion in ("roll", "slide") and direction not in ("left", "right"):
            return str(rng.choice(["left", "right"]))
        if motion == "fly" and direction is None:
            return str(rng.choice(["left", "right"]))
        if motion == "bounce" and direction is None and not g.directions and not self.m.camera:
            return str(rng.choice(["left", "right", "none", "none"])).replace("none", "") or None
        return direction


def _copy(g: Group) -> Group:
    return Group(**{**g.__dict__, "directions": list(g.directions)})


def _append(groups: list[Group], group: Group) -> int:
    groups.append(group)
    return len(groups) - 1
