"""Benchmark suites: prompts in the world's language, grouped by what they test.

Each prompt compiles into claims (claims.py); the suite only chooses prompts that exercise one
ability each. Binding includes colour x shape pairs that the world's held-out split keeps out of
training (when the sampler declares that split), so generalisation shows as its own row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    suite: str
    prompt: str
    seconds: float = 4.0
    size: tuple[int, int] = (64, 64)  # (width, height)


SUITES: dict[str, tuple[str, ...]] = {
    "counting": (
        "one red ball",
        "two blue squares",
        "three green triangles",
        "four yellow balls",
    ),
    "binding": (
        "a red ball and a blue square",
        "a green triangle and a pink ball",
        "a yellow square and a cyan triangle",
        "a purple ball and an orange square",
        "a blue triangle and a red square",
        "a cyan ball and a yellow triangle",
    ),
    # colour x shape and count x motion pairs the world's held-out split keeps out of training
    "heldout": (
        "a red triangle and a green ball",
        "a cyan ball and a yellow square",
        "an orange square and a blue triangle",
        "three green balls roll to the right",
        "two blue squares slide to the left",
    ),
    "spatial": (
        "a green triangle to the left of a pink ball",
        "a red ball right of a blue square",
        "a red ball above a blue square",
        "a yellow ball below a green square",
    ),
    "motion": (
        "a purple square slides to the right",
        "a yellow ball rolls to the left",
        "a green ball flies up",
        "a red ball rolls to the right",
        "a cyan ball falls",
    ),
    "gravity": ("a cyan ball falls", "an orange square falls", "a red ball is thrown up"),
    "bounce": (
        "a blue rubber ball bounces",
        "an orange glass ball bounces",
        "a green wood ball bounces",
    ),
    "collision": (
        "a red ball hits a blue square which turns yellow",
        "a green ball hits a purple ball which turns orange",
    ),
    "occlusion": (
        "a red ball rolls behind a grey wall",
        "a green ball rolls behind a white pillar",
    ),
    "camera": (
        "the camera pans right over two red squares",
        "the camera pans left over a red ball and a blue square",
    ),
    "long_horizon": (),  # filled below: long clips
    "av_sync": ("two pink balls bounce", "a metal ball bounces", "three balls bounce"),
}
# five or six side by side, and long bouncing scenes, need a 16:9 view to lay out for every seed
WIDE = {"counting": ("five purple squares", "six small orange triangles")}
LONG_PROMPTS = ("three balls bounce", "two red squares and a blue ball")
LONG_SECONDS = 30.0


def cases(suite: str) -> list[Case]:
    """The cases of one suite, or of all of them for "all"."""
    if suite == "all":
        return [c for name in SUITES for c in cases(name)]
    if suite not in SUITES:
        raise ValueError(f"suite {suite!r} is unknown; choose from all, {', '.join(SUITES)}")
    if suite == "long_horizon":
        return [Case(suite, p, LONG_SECONDS, (112, 64)) for p in LONG_PROMPTS]
    extra = [Case(suite, p, 4.0, (112, 64)) for p in WIDE.get(suite, ())]
    return [Case(suite, p) for p in SUITES[suite]] + extra
