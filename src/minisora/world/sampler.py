"""Scene sampler: a controllable distribution over world scenes, with a declared held-out split.

A scene is drawn as a *meaning* (groups of objects, what each does, events, occluder, camera,
background) from the weights of `SamplerConfig`, then laid out by the same code that realises
prompts (`layout.realise`), so every sampled scene is valid, shows what its caption says, and
is something the prompt language can ask for.

Held-out split (for measuring compositional generalization, as in CLEVR's CoGenT): some
colour x shape pairs and some count x motion pairs never occur in training scenes, not even
through a colour-change rule; `split="heldout"` scenes always contain at least one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from minisora.world import vocabulary as V
from minisora.world.layout import realise
from minisora.world.prompt import Group, OccluderText, PromptError, PromptMeaning
from minisora.world.spec import (
    BACKGROUNDS,
    MATERIALS,
    PALETTE,
    SHAPES,
    SIZES,
    SceneSpec,
    aspect_name,
)

# The held-out combinations. The README's example prompts stay in training on purpose.
HELDOUT_COLOR_SHAPE: frozenset[tuple[str, str]] = frozenset({
    ("red", "triangle"), ("cyan", "circle"), ("orange", "square"),
})
# (how many identical objects, the motion they start with): see `start_motion`
HELDOUT_COUNT_MOTION: frozenset[tuple[int, str]] = frozenset({(3, "roll"), (2, "slide")})

SPLITS = ("train", "heldout")
MAX_TRIES = 64
LAYOUT_ATTEMPTS = 6  # a scene that does not lay out quickly is redrawn rather than searched for


def _uniform(names) -> dict[str, float]:
    return {name: 1.0 for name in names}


@dataclass
class SamplerConfig:
    """Weights and probabilities of everything a sampled scene can contain."""

    min_objects: int = 1
    max_objects: int = 4
    max_groups: int = 3
    colors: dict[str, float] = field(default_factory=lambda: _uniform(PALETTE))
    shapes: dict[str, float] = field(default_factory=lambda: _uniform(SHAPES))
    sizes: dict[str, float] = field(default_factory=lambda: {"small": 0.35, "medium": 0.45, "large": 0.2})
    materials: dict[str, float] = field(default_factory=lambda: _uniform(MATERIALS))
    motions: dict[str, float] = field(default_factory=lambda: {
        "bounce": 0.3, "roll": 0.2, "slide": 0.15, "fall": 0.15, "fly": 0.1, "rest": 0.1})
    backgrounds: dict[str, float] = field(default_factory=lambda: {"dark": 0.55, "grey": 0.15, "dusk": 0.15,
                                                                   "dawn": 0.15})
    p_direction: float = 0.7  # a moving group is told a direction (else the layout picks one)
    p_occluder: float = 0.2
    p_camera_pan: float = 0.15
    p_color_rule: float = 0.2  # one object turns another colour when hit
    p_hit: float = 0.15  # a collision between two groups, without a rule
    p_relation: float = 0.2  # two groups start left of / right of / above each other
    p_enter: float = 0.1  # the first group enters the view from a side (walls off)
    p_leave: float = 0.05  # the last group leaves the view through a side (walls off)
    p_no_walls: float = 0.1
    p_no_ground: float = 0.03
    aspects: dict[str, float] = field(default_factory=lambda: {"1:1": 0.4, "3:2": 0.2, "2:3": 0.1,
                                                               "16:9": 0.2, "9:16": 0.1})
    canvas: dict[str, tuple[int, int]] = field(default_factory=lambda: {
        "1:1": (64, 64), "3:2": (96, 64), "2:3": (64, 96), "16:9": (112, 64), "9:16": (64, 112)})
    fps: int = 16
    duration: float = 4.0

    @classmethod
    def for_clip(cls, size: tuple[int, int] | None = None, fps: int = 16, duration: float = 4.0) -> SamplerConfig:
        """The default distribution at one fixed canvas size (or the aspect mix when None)."""
        config = cls(fps=fps, duration=duration)
        if size is not None:
            name = aspect_name(*size)
            config.aspects, config.canvas = {name: 1.0}, {name: (int(size[0]), int(size[1]))}
        return config

    def validate(self) -> SamplerConfig:
        if not 1 <= self.min_objects <= self.max_objects <= V.MAX_OBJECTS:
            raise ValueError(f"object counts {self.min_objects}..{self.max_objects}: need 1 <= min <= max <= "
                             f"{V.MAX_OBJECTS}")
        for what, weights, allowed in (("colors", self.colors, PALETTE), ("shapes", self.shapes, SHAPES),
                                       ("sizes", self.sizes, SIZES), ("materials", self.materials, MATERIALS),
                                       ("motions", self.motions, V.MOTION_WORDS.values()),
                                       ("backgrounds", self.backgrounds, BACKGROUNDS),
                                       ("aspects", self.aspects, self.canvas)):
            unknown = set(weights) - set(allowed)
            if unknown or not weights or min(weights.values()) < 0 or sum(weights.values()) <= 0:
                raise ValueError(f"SamplerConfig.{what} {weights}: use non-negative weights over "
                                 f"{', '.join(sorted(set(allowed)))}, not all zero")
        return self


def sample_scene(seed: int, config: SamplerConfig | None = None, split: str = "train") -> SceneSpec:
    """A valid scene drawn from `config`, deterministic from `seed`, inside the given split."""
    config = (config or SamplerConfig()).validate()
    if split not in SPLITS:
        raise ValueError(f"split {split!r} is unknown; choose from {', '.join(SPLITS)}")
    for attempt in range(MAX_TRIES):
        rng = np.random.default_rng([seed, attempt, 0x5CE])
        width, height = config.canvas[_pick(rng, config.aspects)]
        meaning = _sample_meaning(config, rng, split)
        try:
            spec = realise(meaning, width=width, height=height, fps=config.fps, duration=config.duration,
                           seed=int(rng.integers(2**31)), attempts=LAYOUT_ATTEMPTS, variants=1)
        except PromptError:
            continue  # this draw does not fit its canvas: draw again
        if is_heldout(spec) == (split == "heldout"):
            return spec
    raise RuntimeError(f"no {split} scene found for seed {seed} in {MAX_TRIES} draws; the SamplerConfig "
                       f"leaves too little room (fewer objects or more permissive weights help)")


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _sample_meaning(config: SamplerConfig, rng: np.random.Generator, split: str) -> PromptMeaning:
    m = PromptMeaning(ground=rng.random() >= config.p_no_ground, walls=rng.random() >= config.p_no_walls)
    m.background = _pick(rng, config.backgrounds)
    total = int(rng.integers(config.min_objects, config.max_objects + 1))
    n_groups = int(rng.integers(1, min(config.max_groups, total) + 1))
    counts = _split_count(total, n_groups, rng)
    used: set[str] = set()
    for count in counts:
        m.groups.append(_sample_group(config, rng, count, used, split, m.ground))
    if split == "heldout":
        _force_heldout(m, rng)
    _sample_extras(config, rng, m, split)
    return m


def _split_count(total: int, parts: int, rng: np.random.Generator) -> list[int]:
    cuts = sorted(rng.choice(np.arange(1, total), size=parts - 1, replace=False)) if parts > 1 else []
    bounds = [0, *cuts, total]
    return [int(b - a) for a, b in zip(bounds, bounds[1:])]


def _sample_group(config, rng, count, used, split, ground) -> Group:
    colors = {c: w for c, w in config.colors.items() if c not in used} or config.colors
    color = _pick(rng, colors)
    used.add(color)
    shapes = config.shapes
    if split == "train":  # never draw a held-out pair (rules are checked after layout)
        shapes = {s: w for s, w in shapes.items() if (color, s) not in HELDOUT_COLOR_SHAPE} or shapes
    motion = _pick(rng, config.motions)
    if not ground and motion not in ("fall", "fly"):
        motion = "fall"
    group = Group(count=count, plural=count > 1, shape=_pick(rng, shapes), color=color,
                  size=_pick(rng, config.sizes), material=_pick(rng, config.materials), motion=motion)
    if motion in ("bounce", "roll", "slide", "fly") and rng.random() < config.p_direction:
        group.directions = [str(rng.choice(["left", "right"]))]
    group.words = f"{count} {color} {group.shape}"
    return group


def _force_heldout(m: PromptMeaning, rng: np.random.Generator) -> None:
    """Give the first group one held-out combination (colour x shape, or count x motion)."""
    group = m.groups[0]
    if rng.random() < 0.5 or not m.ground:
        group.color, group.shape = sorted(HELDOUT_COLOR_SHAPE)[int(rng.integers(len(HELDOUT_COLOR_SHAPE)))]
    else:
        count, motion = sorted(HELDOUT_COUNT_MOTION)[int(rng.integers(len(HELDOUT_COUNT_MOTION)))]
        group.count, group.plural, group.motion = count, count > 1, motion
        group.shape = "circle" if motion == "roll" else str(rng.choice(["square", "triangle"]))
        if (group.color, group.shape) in HELDOUT_COLOR_SHAPE:
            group.color = "green"
    for other in m.groups[1:]:  # keep the forced group's look unique so its count is what it says
        if (other.color, other.shape) == (group.color, group.shape):
            other.color = next(c for c in PALETTE if c != group.color and (c, other.shape) not in HELDOUT_COLOR_SHAPE)


def _sample_extras(config: SamplerConfig, rng: np.random.Generator, m: PromptMeaning, split: str) -> None:
    """Events, relations, occluder, camera and entering, each with its probability."""
    n = len(m.groups) if m.ground else 1  # with no ground nothing meets anything
    if n >= 2 and rng.random() < config.p_color_rule:
        target = n - 1
        colors = [c for c in PALETTE if c != m.groups[target].color
                  and (split != "train" or (c, m.groups[target].shape) not in HELDOUT_COLOR_SHAPE)]
        m.hits.append((0, target))
        m.rules.append((target, str(rng.choice(colors))))
        m.groups[0].motion = None  # the layout aims the hitter; the target rests
        m.groups[target].motion = None
    elif n >= 2 and rng.random() < config.p_hit:
        m.hits.append((0, 1))
        m.groups[0].motion = m.groups[1].motion = None
    elif n >= 2 and rng.random() < config.p_relation:
        kind = str(rng.choice(["left_of", "right_of", "above"]))
        m.relations.append((0, kind, 1))
        for g in m.groups[:2]:
            g.directions, g.motion = [], None if kind == "above" else g.motion
    if rng.random() < config.p_occluder:
        subject = [i for i, g in enumerate(m.groups) if g.motion in ("roll", "slide", "bounce")][:1]
        m.occluders.append(OccluderText(str(rng.choice(list(V.OCCLUDER_SHAPES))),
                                        str(rng.choice(["grey", "white", "black", "brown"])), subject))
    if rng.random() < config.p_camera_pan:
        m.camera = str(rng.choice(["left", "right"]))
    elif not m.hits and not m.relations and m.ground and rng.random() < config.p_enter:
        first = m.groups[0]
        first.enter = str(rng.choice(["left", "right"]))
        first.motion = first.motion if first.motion in ("roll", "slide", "bounce") else None
        first.directions = []
    if not m.hits and not m.relations and m.ground and not m.groups[-1].enter and rng.random() < config.p_leave:
        last = m.groups[-1]
        last.leave = str(rng.choice(["left", "right"]))
        last.motion = last.motion if last.motion in ("roll", "slide", "bounce") else None
        last.directions = [last.leave]


# -- the split -------------------------------------------------------------------------------------
def start_motion(spec: SceneSpec, index: int) -> str:
    """The motion an object starts with, read off the spec alone: roll, slide, rest, fly, bounce or fall.

    On the floor: roll (circle) / slide (other shapes) when moving, else rest. In the air: fly
    when thrown upward, bounce when moving sideways, fall when dropped straight down.
    """
    obj = spec.objects[index]
    if spec.floor is not None and abs(obj.y - obj.half - spec.floor) < 2e-3:
        if abs(obj.vx) > 1e-6:
            return "roll" if obj.shape == "circle" else "slide"
        return "rest"
    if obj.vy > 0.3:
        return "fly"
    return "bounce" if abs(obj.vx) > 1e-6 and spec.floor is not None else "fall"


def heldout_combinations(spec: SceneSpec) -> set[tuple]:
    """The held-out pairs a scene shows: colour x shape (also after a rule recolours an object)
    and count x motion (identical-looking objects that start with the same motion)."""
    found: set[tuple] = set()
    for index, obj in enumerate(spec.objects):
        colors = {obj.color} | {r.color for r in spec.rules if r.target == index}
        found |= {(c, obj.shape) for c in colors if (c, obj.shape) in HELDOUT_COLOR_SHAPE}
    groups: dict[tuple, int] = {}
    for index, obj in enumerate(spec.objects):
        key = (obj.shape, obj.color, obj.size, obj.material, start_motion(spec, index))
        groups[key] = groups.get(key, 0) + 1
    found |= {(n, key[-1]) for key, n in groups.items() if (n, key[-1]) in HELDOUT_COUNT_MOTION}
    return found


def is_heldout(spec: SceneSpec) -> bool:
    """True when the scene contains a held-out combination (it belongs to the held-out split)."""
    return bool(heldout_combinations(spec))
