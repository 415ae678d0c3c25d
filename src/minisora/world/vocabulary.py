"""The world's language: every word the prompt parser understands, and what it means.

Shared by the parser (text -> scene), the captioner (scene -> text), the scene sampler, prompt
refinement and the benchmark's claims, so that all of them speak exactly the same small
language, as CLEVR's questions are generated from and parsed against one closed vocabulary.
Each table maps surface words (every inflection listed, nothing guessed by stemming) to the
spec's values; `VOCABULARY` lists them by kind and `VOCABULARY_SUMMARY` is the short form that
error messages show.
"""

from __future__ import annotations

from minisora.world.spec import MATERIALS, PALETTE, SHAPES, SIZES

MAX_COUNT = 6  # objects in one group: more do not fit a 64x64 view without overlapping
MAX_OBJECTS = 8  # objects in one scene

NUMBER_WORDS: dict[str, int] = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
COUNT_WORDS: dict[str, int] = {"a": 1, "an": 1, "single": 1, "pair": 2, **NUMBER_WORDS}
# understood only to say that they are too many
TOO_MANY_WORDS: dict[str, int] = {"seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
                                  "dozen": 12, "hundred": 100}

SHAPE_WORDS: dict[str, str] = {
    "ball": "circle", "circle": "circle", "sphere": "circle", "disc": "circle", "disk": "circle",
    "orb": "circle",
    "square": "square", "box": "square", "cube": "square", "block": "square", "crate": "square",
    "triangle": "triangle", "pyramid": "triangle", "wedge": "triangle",
}
# "object" leaves the shape open: the default fills it
GENERIC_NOUNS = ("object", "shape", "thing", "body")

SIZE_WORDS: dict[str, str] = {
    "tiny": "small", "small": "small", "little": "small", "mini": "small",
    "medium": "medium", "mid": "medium", "average": "medium",
    "large": "large", "big": "large", "huge": "large", "giant": "large",
}
MATERIAL_WORDS: dict[str, str] = {
    "rubber": "rubber", "rubbery": "rubber", "bouncy": "rubber",
    "wood": "wood", "wooden": "wood",
    "metal": "metal", "metallic": "metal", "steel": "metal", "iron": "metal",
    "glass": "glass", "glassy": "glass",
}
COLOR_WORDS: dict[str, str] = {name: name for name in PALETTE} | {"violet": "purple", "magenta": "pink"}

# motion verbs (all inflections listed, so that nothing is guessed by stemming)
MOTION_WORDS: dict[str, str] = {}
for _motion, _forms in {
    "bounce": ("bounce", "bounces", "bouncing", "bounced", "hop", "hops", "hopping", "jump", "jumps", "jumping"),
    "roll": ("roll", "rolls", "rolling", "rolled"),
    "slide": ("slide", "slides", "sliding", "slid", "glide", "glides", "gliding", "skid", "skids"),
    "fall": ("fall", "falls", "falling", "fell", "drop", "drops", "dropping", "dropped", "tumble", "tumbles"),
    "fly": ("fly", "flies", "flying", "flew", "arc", "arcs", "soar", "soars", "launched", "thrown", "throw",
            "tossed", "toss"),
    "move": ("move", "moves", "moving", "travel", "travels", "travelling", "traveling", "go", "goes",
             "going", "pass", "passes", "passing", "head", "heads", "heading", "drift", "drifts", "drifting",
             "run", "runs", "cross", "crosses", "crossing"),
    "rest": ("rest", "rests", "resting", "sit", "sits", "sitting", "lie", "lies", "lying", "stand", "stands",
             "standing", "stay", "stays", "wait", "waits", "waiting", "still"),
    "enter": ("enter", "enters", "entering", "arrive", "arrives", "arriving", "appear", "appears"),
}.items():
    for _form in _forms:
        MOTION_WORDS[_form] = _motion
HIT_WORDS = ("hit", "hits", "hitting", "strike", "strikes", "striking", "struck", "knock", "knocks", "knocked", "bump", "bumped",
             "bumps", "bumping", "collide", "collides", "colliding", "smash", "smashes", "smashed", "push",
             "pushes", "pushed")
TURN_WORDS = ("turn", "turns", "turning", "turned", "become", "becomes", "becoming", "change", "changes",
              "changing", "changed", "flash", "flashes")
DIRECTION_WORDS: dict[str, str] = {
    "left": "left", "leftward": "left", "leftwards": "left", "westward": "left",
    "right": "right", "rightward": "right", "rightwards": "right", "eastward": "right",
    "up": "up", "upward": "up", "upwards": "up", "high": "up",
    "down": "down", "downward": "down", "downwards": "down",
}
RELATION_WORDS: dict[str, str] = {"above": "above", "below": "below", "under": "below",
                                  "beneath": "below", "underneath": "below", "beside": "right_of"}
SPEED_WORDS: dict[str, float] = {"slowly": 0.7, "slow": 0.7, "gently": 0.7, "quickly": 1.3, "fast": 1.3,
                                 "rapidly": 1.3, "swiftly": 1.3}

# Occluders: foreground rectangles (width, height) in world units, standing on the canvas bottom.
OCCLUDER_WORDS: dict[str, str] = {"pillar": "pillar", "column": "pillar", "post": "post", "pole": "post",
                                  "wall": "wall", "screen": "screen", "panel": "screen", "curtain": "screen",
                                  "board": "screen"}
OCCLUDER_SHAPES: dict[str, tuple[float, float]] = {
    "pillar": (0.14, 1.0), "post": (0.08, 0.55), "wall": (0.22, 0.7), "screen": (0.34, 0.5),
}
# Occluders are neutral so that they are never mistaken for objects of the palette.
OCCLUDER_COLORS: dict[str, tuple[int, int, int]] = {
    "grey": (150, 150, 150), "gray": (150, 150, 150), "white": (215, 215, 215), "black": (20, 20, 22),
    "brown": (110, 80, 55), "silver": (180, 182, 188), "dark": (60, 60, 64),
}
DEFAULT_OCCLUDER_COLOR = "grey"

# background words: "on a grey background", "at dusk"
BACKGROUND_WORDS: dict[str, str] = {
    "dark": "dark", "black": "dark", "night": "dark", "grey": "grey", "gray": "grey", "dusk": "dusk",
    "evening": "dusk", "sunset": "dusk", "twilight": "dusk", "dawn": "dawn", "morning": "dawn",
    "sunrise": "dawn",
}
BACKGROUND_NOUNS = ("background", "backdrop", "sky")

CAMERA_WORDS = ("camera",)
PAN_WORDS = ("pan", "pans", "panning", "panned", "track", "tracks", "tracking", "scroll", "scrolls",
             "scrolling", "sweep", "sweeps", "sweeping")
NEGATION_WORDS = ("no", "without")
GROUND_WORDS = ("ground", "floor")
WALL_PLURAL = ("walls", "sides")
REFERENCE_WORDS = ("which", "that", "it", "they", "who")
CONDITION_WORDS = ("when", "if", "once", "after", "as")
COORDINATION_WORDS = ("and", "then", "while")

# Words that carry no meaning for the scene ("the", "with", ...). The captioner's connective
# words are here too, so that its captions parse back.
STOP_WORDS = frozenset("""
the of to with in on at by from its their them is are be being been gets get got there
this these those some each other another together across along around toward towards through past
over scene video clip shows showing where out off away again repeatedly before later finally first
second third until both all lands land landing settle settles settling comes come coming stop stops
stopping halt halts starting start starts begin begins beginning end ends ending side against moment
meanwhile frame within seen visible hidden briefly continues continue keeps keep remains remain
centre center middle top bottom near far corner edge so several few many multiple leftmost rightmost
fourth fifth sixth follow follows more than view frame twice touching
touches touch times air starts started too also partly number
""".split())

# canonical spellings the captioner uses (the parser accepts every synonym above)
SHAPE_NOUN: dict[str, tuple[str, str]] = {"circle": ("ball", "balls"), "square": ("square", "squares"),
                                          "triangle": ("triangle", "triangles")}
NUMBER_NAMES = {value: word for word, value in NUMBER_WORDS.items()}

# The short form for error messages: one word per meaning.
VOCABULARY_SUMMARY: dict[str, str] = {
    "counts": "a, one ... six, 1 ... 6",
    "colors": ", ".join(PALETTE),
    "shapes": "ball/circle/sphere, square/box/cube/block, triangle/pyramid, object",
    "sizes": "tiny/small, medium, large/big",
    "materials": "rubber, wood/wooden, metal/metallic/steel, glass",
    "motions": "bounce, roll, slide, fall/drop, fly, move/travel, rest, enter",
    "directions": "to the left, to the right, up, down, from the left/right",
    "relations": "left of, right of, above, below",
    "events": "hits / collides with ..., which turns <colour>; turns <colour> when hit",
    "occluders": "behind a grey/white/black pillar, post, wall or screen",
    "camera": "the camera pans left/right",
    "scene": "on a dark/grey background, at dusk/dawn, no ground, no walls, enters/leaves the view",
}

VOCABULARY: dict[str, tuple[str, ...]] = {
    "counts": tuple(COUNT_WORDS) + tuple(str(n) for n in range(1, MAX_COUNT + 1)),
    "colors": tuple(COLOR_WORDS),
    "shapes": tuple(SHAPE_WORDS) + GENERIC_NOUNS,
    "sizes": tuple(SIZE_WORDS),
    "materials": tuple(MATERIAL_WORDS),
    "motions": tuple(MOTION_WORDS),
    "directions": tuple(DIRECTION_WORDS),
    "relations": ("left of", "right of", "next to", "on top of") + tuple(RELATION_WORDS),
    "collisions": HIT_WORDS + ("onto", "into", "each other"),
    "color changes": TURN_WORDS,
    "occluders": ("behind",) + tuple(OCCLUDER_WORDS),
    "occluder colors": tuple(OCCLUDER_COLORS),
    "camera": CAMERA_WORDS + PAN_WORDS,
    "backgrounds": tuple(BACKGROUND_WORDS) + BACKGROUND_NOUNS,
    "scene": ("no ground", "no floor", "no walls", "enter from the left", "enter from the right",
              "leave the view on the left", "leave the view on the right", "leave", "exit"),
    "speeds": tuple(SPEED_WORDS),
}

assert set(SHAPE_WORDS.values()) == set(SHAPES)
assert set(SIZE_WORDS.values()) == set(SIZES)
assert set(MATERIAL_WORDS.values()) == set(MATERIALS)


def singular(word: str) -> str:
    """The singular of a plural noun from the tables above ("boxes" -> "box"), else the word."""
    known = set(SHAPE_WORDS) | set(OCCLUDER_WORDS) | set(GENERIC_NOUNS) | set(BACKGROUND_NOUNS)
    for cut in (("es", ""), ("s", "")):
        if word.endswith(cut[0]) and word[: -len(cut[0])] in known:
            return word[: -len(cut[0])]
    return word


def is_plural(word: str) -> bool:
    return singular(word) != word
