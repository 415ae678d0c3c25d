"""Prompt parser: text in the world's small language -> a scene spec that realises it.

Two steps. `read_prompt` turns the words into a `PromptMeaning` (groups of objects, what each
does, relations, collisions, colour rules, occluders, camera, background); `layout.realise`
then places the objects so that the simulation really shows it, filling what the text leaves
open from the seed. The grammar is deliberately shallow, like a keyword parser with a little
state (the current subject, the last object named, a pending relation): the language is small
and every word of it is listed in `vocabulary.VOCABULARY`; anything else is an error that
names the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from minisora.world import vocabulary as V
from minisora.world.spec import SceneSpec
from minisora.world.vocabulary import VOCABULARY

__all__ = ["VOCABULARY", "Group", "OccluderText", "PromptError", "PromptMeaning", "parse_prompt", "read_prompt"]


class PromptError(ValueError):
    """A prompt the world cannot show; the message names the words and what is accepted."""


@dataclass
class Group:
    """Objects named together ("three red balls"): attributes left None are filled by the seed."""

    count: int | None = None
    plural: bool = False
    shape: str | None = None
    color: str | None = None
    size: str | None = None
    material: str | None = None
    motion: str | None = None
    directions: list[str] = field(default_factory=list)
    speed: float = 1.0
    enter: str | None = None  # "left" / "right": starts outside the view on that side
    mixed: bool = False  # "of different colours": each object its own colour
    leave: str | None = None  # "left" / "right" / "pending": goes out of the view on that side
    words: str = ""  # the noun phrase as written, for error messages

    @property
    def direction(self) -> str | None:
        """The one direction named; "up and down" or "left and right" name none."""
        unique = set(self.directions)
        if {"up", "down"} <= unique:
            unique -= {"up", "down"}
        if {"left", "right"} <= unique:
            unique -= {"left", "right"}
        return self.directions[-1] if self.directions and self.directions[-1] in unique else None


@dataclass
class OccluderText:
    kind: str  # a key of vocabulary.OCCLUDER_SHAPES
    color: str
    subject: list[int] = field(default_factory=list)  # groups that pass behind it


@dataclass
class PromptMeaning:
    """What a prompt says, by group index; what it leaves open stays None for the layout.

    Conventions: a hitter of -1 is "something" ("turns green when hit"); a target of None is
    "each other" ("two balls collide"); camera and Group.enter are "pending" when the text names
    the act but not the side ("the camera pans", "a ball enters")."""

    groups: list[Group] = field(default_factory=list)
    relations: list[tuple[int, str, int]] = field(default_factory=list)  # (a, left_of/right_of/above/below, b)
    hits: list[tuple[int, int | None]] = field(default_factory=list)  # (hitter, target)
    rules: list[tuple[int, str]] = field(default_factory=list)  # (group hit, colour it turns)
    occluders: list[OccluderText] = field(default_factory=list)
    camera: str | None = None  # "left" / "right" / "pending"
    camera_speed: float = 1.0
    background: str | None = None
    ground: bool = True
    walls: bool = True


def parse_prompt(
    text: str, *, width: int = 64, height: int = 64, fps: int = 16, duration: float = 4.0, seed: int = 0
) -> SceneSpec:
    """The scene a prompt describes, laid out so that its simulation shows what the text says."""
    from minisora.world.layout import realise

    meaning = read_prompt(text)
    return realise(meaning, width=width, height=height, fps=fps, duration=duration, seed=seed, text=text)


# -- words ---------------------------------------------------------------------------------------
_PHRASES = [  # multi-word phrases rewritten to one token before reading (longest first)
    (r"\b(?:the )?(?:left|right) wall\b", "@wall"),  # a wall of the world, not an occluder
    (r"\boff (?:the |a )?walls?\b", "off @wall"),
    (r"\b(?:leaves?|leaving|exits?|exiting)(?: the (?:screen|frame|view))?\b", "@leave"),
    (r"\bout of (?:the )?(?:screen|frame|view|picture)\b", "@leave"),
    (r"\b(?:across|on|of|off|over|into) the (?:screen|frame|view)\b", "@view"),
    (r"\beach other\b|\bone another\b", "@each_other"),
    (r"\b(?:of|in|with) (?:different|various|many|all) colou?rs\b", "@mixed"),  # after its noun
    (r"\b(?:colou?rful|multicolou?red)\b", "@mixed_pre"),  # before its noun
    (r"\b(?:on|at|in|near) the (left|right)(?! of)\b", r"@at_\1"),  # a position, not a direction
    (r"\bto the left of\b|\bleft of\b", "@left_of"),
    (r"\bto the right of\b|\bright of\b|\bnext to\b", "@right_of"),
    (r"\bon top of\b", "above"),
    (r"\b(?:from )?(?:the )?left to (?:the )?right\b", "rightward"),
    (r"\b(?:from )?(?:the )?right to (?:the )?left\b", "leftward"),
    (r"\bfrom (?:the )?left\b", "@from_left"),
    (r"\bfrom (?:the )?right\b", "@from_right"),
    (r"\bback and forth\b", "left and right"),
    (r"\ba pair of\b", "pair"),
]


def tokenize(text: str) -> list[str]:
    """Lower-case words, commas kept as clause breaks, phrases joined, digits kept."""
    if not isinstance(text, str) or not text.strip():
        raise PromptError("the prompt is empty: describe a scene, e.g. 'three red balls bounce to the right'")
    low = text.lower().replace("-ward", "ward").replace("'s", "")
    if re.search(r"\d+[.,]\d", low):
        raise PromptError("counts are whole numbers from 1 to 6, e.g. 'three balls' or '3 balls'")
    low = re.sub(r"[;:.!?()\[\]\u2013\u2014]", ",", low)  # sentence breaks, dashes included
    low = re.sub(r"[^\w,@ ]|_", " ", low)  # quotes, hyphens, apostrophes: word breaks
    low = re.sub(r",", " , ", low)
    for pattern, repl in _PHRASES:
        low = re.sub(pattern, repl, low)
    return [w for w in low.split() if w]


_ADJECTIVES = (set(V.COLOR_WORDS) | set(V.OCCLUDER_COLORS) | set(V.BACKGROUND_WORDS) | set(V.SIZE_WORDS)
               | set(V.MATERIAL_WORDS))


def classify(word: str) -> str | None:
    """The kind of a word, or None when the world's language does not have it."""
    noun = V.singular(word)
    if word.startswith("@") or word == ",":
        return "marker"
    if word in V.COUNT_WORDS or word in V.TOO_MANY_WORDS or word.isdigit():
        return "count"
    if noun in V.SHAPE_WORDS or noun in V.GENERIC_NOUNS:
        return "shape"
    if word in V.WALL_PLURAL:
        return "walls"
    if noun in V.OCCLUDER_WORDS:
        return "occluder"
    if word in ("onto", "into"):
        return "onto"
    if noun in V.BACKGROUND_NOUNS:
        return "background"
    if word in _ADJECTIVES:
        return "adjective"
    for kind, table in (("motion", V.MOTION_WORDS), ("hit", V.HIT_WORDS), ("turn", V.TURN_WORDS),
                        ("direction", V.DIRECTION_WORDS), ("relation", V.RELATION_WORDS),
                        ("speed", V.SPEED_WORDS), ("camera", V.CAMERA_WORDS), ("pan", V.PAN_WORDS),
                        ("negation", V.NEGATION_WORDS), ("ground", V.GROUND_WORDS),
                        ("reference", V.REFERENCE_WORDS), ("condition", V.CONDITION_WORDS),
                        ("and", V.COORDINATION_WORDS)):
        if word in table:
            return kind
    if word == "behind":
        return "behind"
    if word in V.STOP_WORDS:
        return "stop"
    return None


def unknown_words_error(words: list[str]) -> PromptError:
    listed = ", ".join(f"'{w}'" for w in dict.fromkeys(words))
    vocab = "; ".join(f"{kind}: {words}" for kind, words in V.VOCABULARY_SUMMARY.items())
    return PromptError(f"the world does not know the word(s) {listed}. Rephrase with its vocabulary -- {vocab}")


# -- reading ---------------------------------------------------------------------------------------
class _Reader:
    """One pass over the tokens with a little state: who the sentence is about, what came last."""

    def __init__(self) -> None:
        self.m = PromptMeaning()
        self.subject: list[int] | str = []  # group indices, or "camera"
        self.subject_has_verb = False
        self.last: list[int] = []  # the groups named last ("which" refers to them)
        self.pending: list[str] = []  # count and adjective words waiting for their noun
        self.mode: str | None = None  # "hit", "hit_by", "turn", "behind", "@left_of", "above", ...
        self.after_and = False
        self.negate = False
        self.definite = False
        self.condition = False
        self.turn_target: list[int] = []

    def read(self, tokens: list[str]) -> PromptMeaning:
        for index, word in enumerate(tokens):
            kind = classify(word)
            handler = getattr(self, f"_on_{kind}", None)
            if kind in ("count", "adjective"):
                if word == "a" and index + 1 < len(tokens) and tokens[index + 1] == "pair":
                    continue
                self.pending.append(word)
            elif handler is not None:
                handler(word)
            if kind not in ("and", "stop", "count", "adjective"):
                self.after_and = False
            if kind not in ("stop", "count", "adjective"):
                self.definite = False
            if word in ("the", "this", "these", "those"):
                self.definite = True
        self._end_clause()
        self._flush_dangling()
        return self.m

    # nouns ------------------------------------------------------------------------------------
    def _on_shape(self, word: str) -> None:
        group = self._make_group(word)
        index = self._resolve_reference(group)
        self._attach_group(index)

    def _make_group(self, word: str) -> Group:
        noun = V.singular(word)
        group = Group(plural=V.is_plural(word), words=" ".join(self.pending + [word]))
        group.shape = V.SHAPE_WORDS.get(noun)
        for adj in self.pending:
            if adj == "@mixed_pre":
                group.mixed = True
            elif adj in V.COUNT_WORDS or adj in V.TOO_MANY_WORDS or adj.isdigit():
                group.count = _count(adj)
            elif adj in V.SIZE_WORDS:
                group.size = V.SIZE_WORDS[adj]
            elif adj in V.MATERIAL_WORDS:
                group.material = V.MATERIAL_WORDS[adj]
            elif adj in V.COLOR_WORDS:
                group.color = V.COLOR_WORDS[adj]
            else:
                raise PromptError(
                    f"'{adj} {word}': objects come in {', '.join(V.COLOR_WORDS)}; "
                    f"'{adj}' describes only occluders or backgrounds"
                )
        self.pending = []
        return group

    def _resolve_reference(self, group: Group) -> int:
        """'the red ball' after 'a red ball' is the same ball; otherwise a new group."""
        if self.definite and group.count is None:
            for index, other in enumerate(self.m.groups):
                if other.shape == group.shape and group.color in (None, other.color) and (
                    group.size in (None, other.size)) and group.material in (None, other.material):
                    self.definite = False
                    return index
        self.definite = False
        self.m.groups.append(group)
        return len(self.m.groups) - 1

    def _attach_group(self, index: int) -> None:
        mode = self.mode
        subject = self.subject if isinstance(self.subject, list) else []
        if mode in ("hit", "onto") and subject:
            self.m.hits.extend((s, index) for s in subject)
        elif mode == "hit_by" and self.turn_target:
            self.m.hits.extend((index, t) for t in self.turn_target)
        elif mode in ("@left_of", "@right_of", "above", "below", "right_of") and subject:
            kind = {"@left_of": "left_of", "@right_of": "right_of"}.get(mode, mode)
            self.m.relations.extend((s, kind, index) for s in subject)
        elif mode == "behind":
            raise PromptError(
                f"'behind {self.m.groups[index].words}': things pass behind a "
                f"{', '.join(V.OCCLUDER_SHAPES)}, not behind another object"
            )
        elif self.after_and and isinstance(self.subject, list) and self.subject and not self.subject_has_verb:
            self.subject.append(index)
        else:
            self.subject, self.subject_has_verb = [index], False
        self.mode = None
        self.last = [index]

    def _on_occluder(self, word: str) -> None:
        kind = V.OCCLUDER_WORDS[V.singular(word)]
        if kind == "wall" and self.negate:
            self.m.walls, self.negate, self.pending = False, False, []
            return
        color = V.DEFAULT_OCCLUDER_COLOR
        for adj in self.pending:
            if adj in V.OCCLUDER_COLORS:
                color = adj
            elif adj not in V.COUNT_WORDS and not adj.isdigit() and adj not in V.SIZE_WORDS:
                raise PromptError(
                    f"'{adj} {word}': occluders are {', '.join(V.OCCLUDER_COLORS)} so that they are never "
                    f"mistaken for objects"
                )
        self.pending = []
        subject = self.subject if self.mode == "behind" and isinstance(self.subject, list) else []
        self.m.occluders.append(OccluderText(kind, color, list(subject)))
        self.mode = None

    def _on_walls(self, word: str) -> None:
        if self.negate:
            self.m.walls = False
        self.negate, self.pending = False, []

    def _on_background(self, word: str) -> None:
        for adj in self.pending:
            if adj in V.BACKGROUND_WORDS:
                self.m.background = V.BACKGROUND_WORDS[adj]
            elif adj not in V.COUNT_WORDS:
                raise PromptError(f"'{adj} {word}': backgrounds are {', '.join(sorted(set(V.BACKGROUND_WORDS)))}")
        self.pending = []

    def _on_ground(self, word: str) -> None:
        if self.negate:
            self.m.ground = False
        self.negate = False
        if self.mode == "onto":  # "falls onto the floor" names no second object
            self.mode = None

    def _on_negation(self, word: str) -> None:
        self.negate = True

    # verbs ------------------------------------------------------------------------------------
    def _subject_groups(self, word: str) -> list[int]:
        if isinstance(self.subject, list) and self.subject:
            return self.subject
        if self.last:
            return self.last
        raise PromptError(f"'{word}' has nothing to act on: name an object first, e.g. 'a red ball {word}'")

    def _on_motion(self, word: str) -> None:
        motion = V.MOTION_WORDS[word]
        if self.subject == "camera":
            if motion in ("move", "rest"):
                return  # "the camera moves left" is a pan; "the camera stays still" is none
            raise PromptError(f"the camera can only pan left or right, not '{word}'")
        for index in self._subject_groups(word):
            group = self.m.groups[index]
            if motion == "enter":
                group.enter = group.enter or "pending"
            elif group.motion is None or group.motion == "move":
                group.motion = motion
        self.subject_has_verb = True
        if self.mode not in ("behind",):
            self.mode = None

    def _on_hit(self, word: str) -> None:
        if self.condition and self.turn_target and word in _PASSIVE_HITS:  # "turns green when hit (by ...)"
            self.mode = "hit_by"
            self.m.hits.extend((-1, t) for t in self.turn_target)  # hitter filled by the next noun
            return
        self._subject_groups(word)
        self.mode, self.subject_has_verb = "hit", True

    def _on_onto(self, word: str) -> None:
        """'drops onto a box', 'slides into a ball': a hit when an object follows."""
        if isinstance(self.subject, list) and self.subject and self.mode is None:
            self.mode = "onto"

    def _on_turn(self, word: str) -> None:
        self.turn_target = list(self.last if self.last else self._subject_groups(word))
        self.mode = "turn"

    def _on_direction(self, word: str) -> None:
        direction = V.DIRECTION_WORDS[word]
        if self.subject == "camera":
            if direction not in ("left", "right"):
                raise PromptError(f"the camera pans only left or right, not '{word}'")
            self.m.camera = direction
            return
        for index in self._subject_groups(word):
            self.m.groups[index].directions.append(direction)

    def _on_relation(self, word: str) -> None:
        self.mode = V.RELATION_WORDS[word]
        self.pending = []

    def _on_marker(self, word: str) -> None:
        if word == ",":
            self._end_clause()
        elif word in ("@left_of", "@right_of"):
            self.mode = word
        elif word == "@mixed":
            for index in self.last:
                self.m.groups[index].mixed = True
        elif word == "@mixed_pre":
            self.pending.append(word)
        elif word == "@wall" and self.mode in ("hit", "onto"):
            self.mode = None  # hitting a wall of the world is no collision between objects
        elif word == "@each_other" and self.mode in ("hit", "onto") and isinstance(self.subject, list):
            self.m.hits.extend((s, None) for s in self.subject)  # "roll into each other": mutual
            self.mode = None
        elif word == "@leave":
            for index in self._subject_groups(word):
                self.m.groups[index].leave = self.m.groups[index].leave or "pending"
            self.mode = "leave"
        elif word in ("@at_left", "@at_right") and self.mode == "leave":  # "leaves the view on the right"
            for index in self._subject_groups(word):
                self.m.groups[index].leave = word.removeprefix("@at_")
        elif word in ("@from_left", "@from_right"):
            side = word.removeprefix("@from_")
            for index in self._subject_groups(word):
                self.m.groups[index].enter = side

    def _on_behind(self, word: str) -> None:
        self._subject_groups(word)
        self.mode = "behind"

    def _on_speed(self, word: str) -> None:
        if self.subject == "camera":
            self.m.camera_speed = V.SPEED_WORDS[word]
            return
        for index in self._subject_groups(word):
            self.m.groups[index].speed = V.SPEED_WORDS[word]

    def _on_camera(self, word: str) -> None:
        self.subject, self.pending, self.mode = "camera", [], None
        self.definite = False

    def _on_pan(self, word: str) -> None:
        if self.subject != "camera":
            self.subject = "camera"
        self.m.camera = self.m.camera or "pending"

    def _on_reference(self, word: str) -> None:
        pass  # "which" / "that" refer to the last group, which the turn and hit handlers use

    def _on_condition(self, word: str) -> None:
        self.condition = True

    def _on_and(self, word: str) -> None:
        self.after_and = True
        if self.mode == "hit":  # "hits a box and turns": the hit phrase is over
            self.mode = None

    def _end_clause(self) -> None:
        if self.mode == "hit" and isinstance(self.subject, list):
            if len(self.subject) > 1:  # "a ball and a box collide"
                self.m.hits.append((self.subject[0], self.subject[1]))
            else:
                self.m.hits.extend((s, None) for s in self.subject)
        self._flush_dangling()
        self.mode, self.condition, self.after_and = None, False, False

    def _flush_dangling(self) -> None:
        """Adjectives with no noun: 'at dusk' names a background, 'turns yellow' a colour."""
        for adj in self.pending:
            if self.mode == "turn" and adj in V.COLOR_WORDS:
                self.m.rules.extend((t, V.COLOR_WORDS[adj]) for t in self.turn_target)
                self.mode = None
            elif adj in V.BACKGROUND_WORDS and adj not in V.COLOR_WORDS:
                self.m.background = V.BACKGROUND_WORDS[adj]
            elif adj in V.COUNT_WORDS or adj.isdigit():
                continue
            else:
                raise PromptError(f"'{adj}' describes nothing: put it before a noun, e.g. '{adj} ball'")
        self.pending = []


_PASSIVE_HITS = ("hit", "struck", "bumped", "knocked", "smashed", "pushed")


def _count(word: str) -> int:
    value = int(word) if word.isdigit() else {**V.COUNT_WORDS, **V.TOO_MANY_WORDS}[word]
    if not 1 <= value <= V.MAX_COUNT:
        raise PromptError(f"'{word}': a group holds 1 to {V.MAX_COUNT} objects in this world")
    return value


def read_prompt(text: str) -> PromptMeaning:
    """The meaning of a prompt, without any layout; PromptError for words outside the language."""
    tokens = tokenize(text)
    unknown = [w for w in tokens if classify(w) is None]
    if unknown:
        raise unknown_words_error(unknown)
    reader = _Reader()
    tokens = _split_turn_colours(tokens)
    meaning = reader.read(tokens)
    # "(-1, t)" stands for "something hits t" ("turns green when hit"): drop it where the
    # text went on to name the hitter ("... when hit by a blue ball")
    named = {b for a, b in meaning.hits if a != -1}
    meaning.hits = [(a, b) for a, b in meaning.hits if a != -1 or b not in named]
    if not meaning.groups:
        raise PromptError(f"'{text}' names no object: say what to show, e.g. 'a red ball', 'two blue boxes'")
    return meaning


def _split_turn_colours(tokens: list[str]) -> list[str]:
    """'turns yellow' ends its phrase at the colour, so the colour never waits for a noun."""
    out: list[str] = []
    for index, word in enumerate(tokens):
        out.append(word)
        if word in V.COLOR_WORDS and index > 0 and tokens[index - 1] in V.TURN_WORDS + ("to", "into"):
            out.append(",")
    return out
