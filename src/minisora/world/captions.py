"""Captions: what a clip shows, in the world's own language, read off the simulation.

`caption_clip` writes the detailed description a training caption needs (every object with its
count, size, colour, material, shape, start position and motion, then the events in the order
they happen, occluders, camera and background); `short_prompts` writes the terse prompts users
type. Motions are measured from the trajectory, not copied from the spec, so a ball launched
to the right that is stopped by a box is not said to travel far. Every sentence uses only the
parser's vocabulary (`vocabulary.py`) and avoids numbers, so captions parse back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from minisora.world import vocabulary as V
from minisora.world.physics import Trajectory
from minisora.world.spec import SceneSpec

MOVE_MIN = 0.08  # units of travel below which an object is said to stay put
MAX_EVENTS = 3  # captions must fit the text encoder's 128 tokens


@dataclass(frozen=True)
class ObjectMotion:
    """How one object moves over the clip, measured from its trajectory."""

    verb: str  # bounce, roll, slide, fall, fly, rest
    direction: str | None  # left / right, or None
    enters: str | None  # the side it comes in from
    floor_bounces: int
    start_area: str  # left / middle / right of the first frame
    start_height: str  # floor / air / top
    hidden_at_start: bool = False  # outside the first frame, shown later by the camera
    leaves: str | None = None  # left / right / bottom: where it goes out of the view for good


def describe_motion(spec: SceneSpec, traj: Trajectory, k: int) -> ObjectMotion:
    """The verb, direction and start position an observer would use for object k."""
    obj = spec.objects[k]
    xs, ys = traj.positions[:, k, 0], traj.positions[:, k, 1]
    cam0, view = float(traj.camera_x[0]), spec.view_width
    floor = spec.floor
    bounces = sum(1 for c in traj.contacts if c.a == k and c.b == "floor")
    on_floor = floor is not None and abs(ys[0] - obj.half - floor) < 2e-3
    enters = None
    outside = xs[0] + obj.half <= cam0 or xs[0] - obj.half >= cam0 + view
    if outside:  # it enters when its own motion brings it in; a pan merely reveals it
        inside = (xs - obj.half >= traj.camera_x - 1e-6) & (xs + obj.half <= traj.camera_x + view + 1e-6)
        side = "left" if xs[0] < cam0 else "right"
        toward = (xs[-1] - xs[0]) * (1 if side == "left" else -1) > MOVE_MIN
        if inside.any() and toward:
            enters = side
    direction = _direction(traj, k)
    first_floor = min((c.time for c in traj.contacts if c.a == k and c.b == "floor"), default=None)
    until = len(ys) if first_floor is None else max(int(first_floor * spec.fps), 1)
    rises = ys[:until].max() > ys[0] + 0.1
    if on_floor:
        verb = "rest" if np.ptp(xs) < MOVE_MIN else ("roll" if obj.shape == "circle" else "slide")
    elif rises:
        verb = "fly"
    elif abs(traj.velocities[0, k, 0]) < 0.05 and bounces < 3:
        verb = "fall"
    else:
        verb = "bounce" if bounces >= 2 else "fall"
    area = ("left", "middle", "right")[min(max(int(3 * (xs[0] - cam0) / view), 0), 2)]
    height = "floor" if on_floor else ("top" if ys[0] > 0.6 * spec.view_height else "air")
    return ObjectMotion(verb, direction, enters, bounces, area, height, outside and enters is None,
                        _leaves(spec, traj, k))


def _leaves(spec: SceneSpec, traj: Trajectory, k: int) -> str | None:
    """The side an object seen in the clip is out of the view at the end, or None."""
    half = spec.objects[k].half
    x, y = traj.positions[:, k, 0] - traj.camera_x, traj.positions[:, k, 1]
    visible = (x + half > 0) & (x - half < spec.view_width) & (y + half > 0)
    if visible[-1] or not visible.any():
        return None
    if y[-1] + half <= 0:
        return "bottom"
    side = "left" if x[-1] + half <= 0 else "right"
    own = traj.positions[-1, k, 0] - traj.positions[0, k, 0]  # not merely left behind by a pan
    return side if own * (1 if side == "right" else -1) > MOVE_MIN else None


def _direction(traj: Trajectory, k: int) -> str | None:
    """Left or right: the travel until the object first meets a wall or another object."""
    knocks = [c.time for c in traj.contacts if c.b != "floor" and k in (c.a, c.b)]
    end = len(traj.times) - 1
    if knocks:
        end = max(int(np.searchsorted(traj.times, min(knocks))), 1)
    dx = traj.positions[end, k, 0] - traj.positions[0, k, 0]
    if abs(dx) < MOVE_MIN / 2 and end < len(traj.times) - 1:
        dx = traj.velocities[0, k, 0]  # knocked early: the direction it set off in
        return None if abs(dx) < 0.05 else ("right" if dx > 0 else "left")
    return None if abs(dx) < MOVE_MIN else ("right" if dx > 0 else "left")


# -- groups and names ------------------------------------------------------------------------------
@dataclass
class _Group:
    members: list[int]
    shape: str
    color: str
    size: str
    material: str
    motion: ObjectMotion
    areas: set[str] = field(default_factory=set)  # where its members start: left / middle / right


def _groups(spec: SceneSpec, motions: list[ObjectMotion]) -> list[_Group]:
    """Objects that look alike and move alike, in the order they first appear in the spec."""
    groups: dict[tuple, _Group] = {}
    for k, (obj, m) in enumerate(zip(spec.objects, motions)):
        key = (obj.shape, obj.color, obj.size, obj.material, m.verb, m.direction, m.enters, m.hidden_at_start,
               m.leaves)
        if key not in groups:
            groups[key] = _Group([], obj.shape, obj.color, obj.size, obj.material, m)
        groups[key].members.append(k)
        groups[key].areas.add(m.start_area)
    return list(groups.values())


def _noun(shape: str, plural: bool) -> str:
    return V.SHAPE_NOUN[shape][1 if plural else 0]


def _names(spec: SceneSpec) -> list[str]:
    """The shortest 'the ...' name that picks out each object among the others."""
    objs = spec.objects
    names = []
    for k, obj in enumerate(objs):
        words: list[str] = [obj.color, _noun(obj.shape, False)]
        for extra in ("size", "material"):
            same = [o for o in objs if (o.color, o.shape) == (obj.color, obj.shape)
                    and all(getattr(o, e) == getattr(obj, e) for e in ("size", "material")[: ("size", "material").index(extra)])]
            if len(same) > 1 and len({getattr(o, extra) for o in same}) > 1:
                words.insert(0, getattr(obj, extra))
        twins = [j for j, o in enumerate(objs) if (o.shape, o.color, o.size, o.material) == (
            obj.shape, obj.color, obj.size, obj.material)]
        if len(twins) > 1:
            order = sorted(twins, key=lambda j: (objs[j].x, j)).index(k)
            words.insert(0, _ordinal(order, len(twins)))
        names.append("the " + " ".join(words))
    return names


def _ordinal(index: int, count: int) -> str:
    """Twins are told apart by where they start: leftmost, middle / second, third ..., rightmost."""
    if index == 0:
        return "leftmost"
    if index == count - 1:
        return "rightmost"
    if count == 3:
        return "middle"
    return ("second", "third", "fourth", "fifth", "sixth", "seventh")[index - 1]


def _count_word(n: int, next_word: str) -> str:
    if n == 1:
        return "an" if next_word[0] in "aeiou" else "a"
    return V.NUMBER_NAMES.get(n, str(n))


def _verb(verb: str, plural: bool) -> str:
    if plural:
        return verb
    return {"fly": "flies", "rest": "rests"}.get(verb, verb + ("es" if verb.endswith("sh") else "s"))


# -- the detailed caption ------------------------------------------------------------------------
def caption_clip(spec: SceneSpec, trajectory: Trajectory) -> str:
    """A detailed, deterministic description of the clip, every object in it named."""
    motions = [describe_motion(spec, trajectory, k) for k in range(len(spec.objects))]
    groups = _groups(spec, motions)
    names = _names(spec)
    sentences = [_setting(spec)]
    seen_appearance: set[tuple] = set()
    for g in groups:
        sentences.append(_group_sentence(g, seen_appearance))
    sentences += _relation_sentences(spec, groups)
    sentences += _occluder_sentences(spec, trajectory, groups, names)
    events = _events(spec, trajectory, names)
    if events:
        sentences.append(_sequence(events))
    if spec.camera_pan:
        sentences.append(f"The camera pans to the {'right' if spec.camera_pan > 0 else 'left'}.")
    return " ".join(s[0].upper() + s[1:] for s in sentences)


def _setting(spec: SceneSpec) -> str:
    text = f"on a {spec.background} background"
    missing = [w for w, present in (("ground", spec.ground), ("walls", spec.walls)) if not present]
    if missing:
        text += ", with no " + " and no ".join(missing)
    return text + ":"


def _group_sentence(g: _Group, seen: set[tuple]) -> str:
    n, m = len(g.members), g.motion
    plural = n > 1
    appearance = (g.shape, g.color, g.size, g.material)
    words = f"{g.size} {g.color} {g.material} {_noun(g.shape, plural)}"
    lead = ("another " if not plural else "") if appearance in seen else _count_word(n, words) + " "
    if appearance in seen and plural:
        lead = _count_word(n, words) + " more "
    seen.add(appearance)
    text = lead + words + " " + _verb(m.verb, plural)
    if m.verb == "fall" and m.floor_bounces >= 2:
        text += " and " + _verb("bounce", plural)
    if m.enters:
        text += f" in from the {m.enters}"
        if m.direction and m.direction != ("right" if m.enters == "left" else "left"):
            text += f", then to the {m.direction}"
    elif m.direction:
        text += f" to the {m.direction}"
    if m.verb == "fly":
        text = text.replace(" flies", " flies up and").replace(" fly", " fly up and")
        text += "" if m.direction else " down"
    if not m.enters:
        place = "in the middle" if m.start_area == "middle" else f"on the {m.start_area}"
        place = "across the view" if len(g.areas) > 1 else place
        place = f"hidden {place}" if m.hidden_at_start else place  # until the camera shows it
        height = {"floor": "on the floor", "top": "near the top", "air": "in the air"}[m.start_height]
        text += f", starting {height} {place}" if m.verb != "rest" else f" {height} {place}"
    if m.floor_bounces >= 2 and m.verb in ("bounce", "fly") and not plural:
        text += f", touching the floor {_times(m.floor_bounces)}"
    if m.leaves:
        side = "at the bottom" if m.leaves == "bottom" else f"on the {m.leaves}"
        text += f", and {'leave' if plural else 'leaves'} the view {side}"
    return text + "."


def _relation_sentences(spec: SceneSpec, groups: list[_Group]) -> list[str]:
    """Where neighbouring groups start relative to each other: left of / right of / above."""
    sentences = []
    for a, b in zip(groups, groups[1:]):
        name_a, name_b = _group_name(a, groups), _group_name(b, groups)
        if name_a is None or name_b is None:
            continue
        if a.motion.start_area != b.motion.start_area and not a.motion.hidden_at_start:
            continue  # "on the left" and "on the right" already say it
        xa, xb = [spec.objects[k].x for k in a.members], [spec.objects[k].x for k in b.members]
        ya, yb = [spec.objects[k].y for k in a.members], [spec.objects[k].y for k in b.members]
        verb = "start" if len(a.members) > 1 else "starts"
        if max(xa) + 0.05 < min(xb):
            sentences.append(f"{name_a} {verb} left of {name_b}.")
        elif min(xa) > max(xb) + 0.05:
            sentences.append(f"{name_a} {verb} right of {name_b}.")
        elif min(ya) > max(yb) + 0.05:
            sentences.append(f"{name_a} {verb} above {name_b}.")
    return sentences


def _group_name(g: _Group, groups: list[_Group]) -> str | None:
    """'the red balls' / 'the small red ball': a name no other group shares, or None."""
    look = (g.shape, g.color, g.size, g.material)
    if any((o.shape, o.color, o.size, o.material) == look for o in groups if o is not g):
        return None
    words = [g.color, _noun(g.shape, len(g.members) > 1)]
    same = [o for o in groups if o is not g and (o.shape, o.color) == (g.shape, g.color)]
    if same:
        words.insert(0, g.size)
    if any(o.size == g.size for o in same):
        words.insert(-1, g.material)
    return "the " + " ".join(words)


def _times(n: int) -> str:
    return f"{V.NUMBER_NAMES[n]} times" if n in V.NUMBER_NAMES else "many times"


def _occluder_sentences(spec, traj, groups, names) -> list[str]:
    sentences = []
    for occ in spec.occluders:
        kind = _occluder_kind(occ.width, occ.height)
        color = _occluder_color(occ.color)
        hidden = []
        for k, obj in enumerate(spec.objects):
            xs, ys = traj.positions[:, k, 0], traj.positions[:, k, 1]
            overlap = (xs + obj.half > occ.x) & (xs - obj.half < occ.x + occ.width) & (
                ys - obj.half < occ.y + occ.height) & (ys + obj.half > occ.y)
            if overlap.any():
                hidden.append((k, bool(overlap.all())))
        place = _area(spec, occ.x + occ.width / 2 - spec.camera_start)
        if not hidden:
            sentences.append(f"there is a {color} {kind} {place}.")
            continue
        k, always = hidden[0]
        verb = "passes behind" if not always else (
            "is partly hidden behind" if 2 * spec.objects[k].half > occ.width else "is hidden behind")
        sentences.append(f"{names[k]} {verb} a {color} {kind} {place}.")
        for k, always in hidden[1:]:
            sentences.append(f"{names[k]} {'is hidden' if always else 'passes'} behind the {kind} too.")
    return sentences


def _area(spec: SceneSpec, x: float) -> str:
    third = min(max(int(3 * x / spec.view_width), 0), 2)
    return ("on the left", "in the middle", "on the right")[third]


def _occluder_kind(width: float, height: float) -> str:
    return min(V.OCCLUDER_SHAPES, key=lambda k: abs(V.OCCLUDER_SHAPES[k][0] - width) + abs(
        min(V.OCCLUDER_SHAPES[k][1], height) - height))


def _occluder_color(rgb) -> str:
    names = [n for n in V.OCCLUDER_COLORS if n not in ("gray", "dark")]
    return min(names, key=lambda n: sum((a - b) ** 2 for a, b in zip(V.OCCLUDER_COLORS[n], rgb)))


def _events(spec: SceneSpec, traj: Trajectory, names: list[str]) -> list[tuple[float, str]]:
    """The clip's events in time order: the first contact, then the most telling of the rest
    (colour changes, collisions, wall bounces, landings), at most MAX_EVENTS of them."""
    events: list[tuple[int, float, str]] = []  # (priority, time, text): lower priority tells more
    seen: set[tuple] = set()
    changes = {(round(t, 6), k): c for t, k, c in traj.color_changes}
    for c in traj.contacts:
        if isinstance(c.b, int):
            key: tuple = ("pair", min(c.a, c.b), max(c.a, c.b))
            if key not in seen:
                events.append(_collision(traj, c, names, changes))
        elif c.b == "floor":
            key = ("floor", c.a)
            if key not in seen:
                events.append((3, c.time, f"{names[c.a]} lands on the floor"))
        else:
            key = (c.b, c.a)
            if key not in seen:
                side = "left" if c.b == "wall_left" else "right"
                events.append((2, c.time, f"{names[c.a]} bounces off the {side} wall"))
        seen.add(key)
    if not events:
        return []
    first = min(events, key=lambda e: e[1])
    rest = sorted((e for e in events if e is not first), key=lambda e: (e[0], e[1]))[: MAX_EVENTS - 1]
    return [(t, text) for _, t, text in sorted([first, *rest], key=lambda e: e[1])]


def _collision(traj: Trajectory, contact, names: list[str], changes: dict) -> tuple[int, float, str]:
    hitter, target = _hitter(traj, contact.a, contact.b, contact.time)
    when = round(contact.time, 6)
    text = f"{names[hitter]} hits {names[target]}"
    if (when, target) in changes:
        text += f", which turns {changes[(when, target)]}"
    if (when, hitter) in changes:
        text += f", and {names[hitter]} turns {changes[(when, hitter)]}"
    return (0 if "turns" in text else 1), contact.time, text


def _hitter(traj: Trajectory, a: int, b: int, time: float) -> tuple[int, int]:
    """The faster of the two just before the contact is the one that hits."""
    frame = max(int(np.searchsorted(traj.times, time)) - 1, 0)
    speed = np.linalg.norm(traj.velocities[frame, [a, b]], axis=-1)
    return (a, b) if speed[0] >= speed[1] else (b, a)


def _sequence(events: list[tuple[float, str]]) -> str:
    parts = [text for _, text in events]
    if len(parts) == 1:
        return parts[0] + "."
    body = "first " + parts[0] + "; " + "; ".join("then " + p for p in parts[1:-1])
    return body.rstrip("; ") + ("; " if len(parts) > 2 else "; ") + "finally " + parts[-1] + "."


# -- short prompts -------------------------------------------------------------------------------
_SYNONYMS = {
    "circle": (("ball", "balls"), ("sphere", "spheres"), ("circle", "circles")),
    "square": (("square", "squares"), ("box", "boxes"), ("cube", "cubes"), ("block", "blocks")),
    "triangle": (("triangle", "triangles"), ("pyramid", "pyramids")),
}
_DIRECTION_PHRASES = ("to the {d}", "{d}ward", "towards the {d}")


def short_prompts(spec: SceneSpec, trajectory: Trajectory, n: int = 3, seed: int = 0) -> list[str]:
    """`n` distinct terse prompts a user might type for this clip, with seeded paraphrases.

    The first always names the largest group and its motion; the others are drawn from
    paraphrases (gerunds, synonyms, digits, with or without size and material) and from the
    clip's other facts (other groups, a hit and its colour change, an occluder, the camera, the
    background). Every one parses back with `parse_prompt`."""
    rng = np.random.default_rng([seed, 101])
    nouns = {shape: forms[int(rng.integers(len(forms)))] for shape, forms in _SYNONYMS.items()}  # one per set
    motions = [describe_motion(spec, trajectory, k) for k in range(len(spec.objects))]
    groups = sorted(_groups(spec, motions), key=lambda g: -len(g.members))
    main = groups[0]
    say = lambda g, **kw: _short_group(g, rng, nouns, **kw)  # noqa: E731 -- reads as a phrase below
    first = say(main, verb="present")
    candidates = [say(main, verb="gerund"), say(main, verb="present", detail=True), say(main, verb="bare")]
    candidates += [say(g, verb="present") for g in groups[1:]]
    if len(groups) > 1:
        listed = [say(g) for g in groups[:3]]
        candidates.append(", ".join(listed[:-1]) + " and " + listed[-1])
        if (main.shape, main.color) != (groups[1].shape, groups[1].color):
            candidates.append(first + " and " + say(groups[1], verb="present"))
    candidates += _short_events(spec, trajectory, groups, say)
    if spec.camera_pan:
        side = "right" if spec.camera_pan > 0 else "left"
        candidates.append(f"the camera pans {side} over {say(main)}")
    suffix = {"dusk": " at dusk", "dawn": " at dawn", "grey": " on a grey background"}.get(spec.background)
    if suffix:
        candidates.append(first + suffix)
    rest = [c for c in dict.fromkeys(candidates) if c != first]
    return [first] + [rest[i] for i in rng.permutation(len(rest))[: n - 1]]


def _short_events(spec, traj, groups, say) -> list[str]:
    """A hit and the colour it causes, and an object passing behind an occluder."""
    found = []
    owner = {k: g for g in groups for k in g.members}
    for t, k, color in traj.color_changes[:1]:
        hitter = next((c.a if c.b == k else c.b for c in traj.contacts
                       if abs(c.time - t) < 1e-6 and k in (c.a, c.b) and isinstance(c.b, int)), None)
        if hitter is not None and owner[hitter] is not owner[k]:
            found.append(f"{say(owner[hitter], single=True)} hits {say(owner[k], single=True)}, which turns {color}")
    for occ in spec.occluders[:1]:
        for k, obj in enumerate(spec.objects):
            xs = traj.positions[:, k, 0]
            behind = (xs + obj.half > occ.x) & (xs - obj.half < occ.x + occ.width)
            if behind.any() and not behind.all():
                kind, color = _occluder_kind(occ.width, occ.height), _occluder_color(occ.color)
                found.append(f"{say(owner[k], verb='present')} behind a {color} {kind}")
                break
    return found


_GERUND = {"bounce": "bouncing", "roll": "rolling", "slide": "sliding", "fall": "falling", "fly": "flying",
           "rest": "resting"}


def _short_group(g: _Group, rng: np.random.Generator, nouns: dict[str, tuple[str, str]], verb: str | None = None,
                 single: bool = False, detail: bool = False) -> str:
    """'three red balls bounce to the right': count, colour, noun, and a verb in the style asked
    ('present', 'gerund', 'bare' without the direction), or none."""
    count = 1 if single else len(g.members)
    plural = count > 1
    adjectives = [g.color]
    if detail or rng.random() < 0.25:
        adjectives.insert(0, g.size)
    if detail or rng.random() < 0.15:
        adjectives.append(g.material)
    words = " ".join([*adjectives, nouns[g.shape][1 if plural else 0]])
    count_word = str(count) if plural and rng.random() < 0.2 else _count_word(count, words)
    text = f"{count_word} {words}"
    if verb is None:
        return text
    m = g.motion
    text += " " + (_GERUND[m.verb] if verb == "gerund" else _verb(m.verb, plural))
    if m.enters:
        text += f" in from the {m.enters}"
    elif m.direction and verb != "bare":
        text += " " + str(rng.choice(_DIRECTION_PHRASES)).format(d=m.direction)
    return text
