"""The scene spec: everything that decides a world clip, as plain dataclasses that round-trip JSON.

World units: one unit is the canvas's short side, y points up, x to the right, and the view's
bottom-left corner is the origin at t = 0. A scene renders the same at any resolution of its
aspect ratio.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

# Eight hues 45 degrees apart at high saturation, so that H.264's halved chroma and a VAE
# still tell them apart; backgrounds are kept dark and unsaturated for the same reason.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "orange": (250, 140, 20),
    "yellow": (240, 225, 40),
    "green": (40, 190, 60),
    "cyan": (40, 210, 225),
    "blue": (45, 80, 240),
    "purple": (150, 60, 215),
    "pink": (250, 120, 200),
}
SHAPES = ("circle", "square", "triangle")
SIZES: dict[str, float] = {"small": 0.07, "medium": 0.10, "large": 0.14}  # half-extent, units


@dataclass(frozen=True)
class Material:
    restitution: float
    friction: float  # Coulomb coefficient against the floor (circles roll: a tenth of it)
    density: float
    pitch: float  # base frequency (Hz) of a medium object's impact sound
    decay: float  # seconds for the sound to fall by e
    partials: tuple[float, ...]  # frequency ratios: harmonic for wood/glass, inharmonic for metal


MATERIALS: dict[str, Material] = {
    "rubber": Material(0.80, 0.8, 1.0, 180.0, 0.025, (1.0, 2.0)),
    "wood": Material(0.50, 0.5, 0.7, 420.0, 0.04, (1.0, 2.76, 5.4)),
    "metal": Material(0.35, 0.3, 3.0, 900.0, 0.25, (1.0, 2.32, 4.25, 6.63)),
    "glass": Material(0.65, 0.2, 2.0, 1800.0, 0.12, (1.0, 2.0, 3.0)),
}

ASPECTS: dict[str, float] = {"1:1": 1.0, "3:2": 1.5, "2:3": 2 / 3, "16:9": 16 / 9, "9:16": 9 / 16}
ASPECT_TOLERANCE = 0.03  # 112x64 counts as 16:9 (1.75 vs 1.78): sizes must be multiples of 16

BACKGROUNDS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "dark": ((38, 40, 48), (38, 40, 48)),
    "grey": ((92, 94, 100), (92, 94, 100)),
    "dusk": ((28, 30, 58), (74, 62, 84)),
    "dawn": ((70, 78, 96), (120, 112, 104)),
}
GROUND_COLOR = (84, 74, 64)
GROUND_HEIGHT = 0.10  # units: the floor line's height above the view's bottom
GRAVITY = 3.0  # units / s^2


class SpecError(ValueError):
    """A scene spec that cannot be simulated; the message says what is allowed."""


def aspect_name(width: int, height: int) -> str:
    """The supported aspect ratio that width x height is, or SpecError listing them."""
    ratio = width / height
    for name, value in ASPECTS.items():
        if abs(ratio / value - 1) <= ASPECT_TOLERANCE:
            return name
    raise SpecError(
        f"size {width}x{height} has aspect {ratio:.3f}; supported: {', '.join(ASPECTS)} "
        f"(for example 64x64, 96x64, 64x96, 112x64, 64x112, 256x144)"
    )


@dataclass
class ObjectSpec:
    shape: str = "circle"
    color: str = "red"
    size: str = "medium"
    material: str = "rubber"
    x: float = 0.5
    y: float = 0.5
    vx: float = 0.0
    vy: float = 0.0

    @property
    def half(self) -> float:
        return SIZES[self.size]


@dataclass
class Occluder:
    """A foreground rectangle (world units, in front of every object)."""

    x: float = 0.4
    y: float = 0.0
    width: float = 0.2
    height: float = 1.0
    color: tuple[int, int, int] = (150, 150, 150)


@dataclass
class Rule:
    """Cause and effect: when something hits object `target`, it turns `color`."""

    kind: str = "color_change_on_hit"
    target: int = 0
    color: str = "yellow"


@dataclass
class SceneSpec:
    width: int = 64
    height: int = 64
    fps: int = 16
    duration: float = 4.0
    background: str = "dark"
    ground: bool = True
    walls: bool = True
    camera_pan: float = 0.0  # units / s; positive pans right (the world slides left)
    objects: list[ObjectSpec] = field(default_factory=list)
    occluders: list[Occluder] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    seed: int = 0

    # -- derived geometry ---------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        """Frames at t = 0, 1/fps, ..., duration: 4k + 1 whenever fps * duration is 4k."""
        return round(self.duration * self.fps) + 1

    @property
    def scale(self) -> float:
        """Pixels per world unit."""
        return float(min(self.width, self.height))

    @property
    def view_width(self) -> float:
        return self.width / self.scale

    @property
    def view_height(self) -> float:
        return self.height / self.scale

    @property
    def world_width(self) -> float:
        """The walls stand this far apart: the view, plus what a camera pan uncovers."""
        return self.view_width + abs(self.camera_pan) * self.duration

    @property
    def camera_start(self) -> float:
        return 0.0 if self.camera_pan >= 0 else self.world_width - self.view_width

    @property
    def floor(self) -> float | None:
        return GROUND_HEIGHT if self.ground else None

    # -- validation and JSON ------------------------------------------------------------------
    def validate(self) -> SceneSpec:
        if self.width % 16 or self.height % 16 or self.width < 16 or self.height < 16:
            raise SpecError(f"size {self.width}x{self.height}: width and height must be multiples of 16")
        aspect_name(self.width, self.height)
        if not 1 <= self.fps <= 60:
            raise SpecError(f"fps {self.fps} is out of range: use 1 to 60")
        if not 0 < self.duration <= 600:
            raise SpecError(f"duration {self.duration} s is out of range: use (0, 600]")
        if self.background not in BACKGROUNDS:
            raise SpecError(f"background {self.background!r}: choose from {', '.join(BACKGROUNDS)}")
        for index, obj in enumerate(self.objects):
            _check_choice(f"object {index} shape", obj.shape, SHAPES)
            _check_choice(f"object {index} color", obj.color, PALETTE)
            _check_choice(f"object {index} size", obj.size, SIZES)
            _check_choice(f"object {index} material", obj.material, MATERIALS)
            if not all(math.isfinite(v) for v in (obj.x, obj.y, obj.vx, obj.vy)):
                raise SpecError(f"object {index} has a non-finite position or velocity")
        self._check_placement()
        for rule in self.rules:
            _check_choice("rule kind", rule.kind, ("color_change_on_hit",))
            _check_choice("rule color", rule.color, PALETTE)
            if not 0 <= rule.target < len(self.objects):
                raise SpecError(f"rule target {rule.target} names no object (there are {len(self.objects)})")
        return self

    def _check_placement(self) -> None:
        from minisora.world.physics import signed_distance  # geometry lives with the physics

        floor = self.floor
        for index, obj in enumerate(self.objects):
            if floor is not None and obj.y - obj.half < floor - 1e-9:
                raise SpecError(f"object {index} starts below the floor (y={obj.y:.3f}); raise it")
            for other_index in range(index):
                other = self.objects[other_index]
                gap, _ = signed_distance(
                    (other.x, other.y), other.half, other.shape == "circle",
                    (obj.x, obj.y), obj.half, obj.shape == "circle",
                )
                if gap < 0:
                    raise SpecError(f"objects {other_index} and {index} overlap at the start; move them apart")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SceneSpec:
        data = dict(data)
        data["objects"] = [ObjectSpec(**o) for o in data.get("objects", [])]
        data["occluders"] = [
            Occluder(**{**o, "color": tuple(o.get("color", Occluder.color))}) for o in data.get("occluders", [])
        ]
        data["rules"] = [Rule(**r) for r in data.get("rules", [])]
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> SceneSpec:
        return cls.from_dict(json.loads(text))


def _check_choice(what: str, value: str, allowed) -> None:
    if value not in allowed:
        raise SpecError(f"{what} {value!r} is unknown; choose from {', '.join(allowed)}")
