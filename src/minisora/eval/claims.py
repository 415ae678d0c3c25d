"""Machine-checkable claims compiled from a prompt, checked against any video's analysis.

A claim names what the prompt promises in terms of what can be seen, never of how the video was
made: "there are exactly three red circles", "the purple square moves right", "the blue square
turns yellow only after the red ball hits it". Objects are found by the attributes the prompt
gives (colour at first sight, shape, size), so a video from any system can be scored. Each
verdict says whether the claim held and, when not, where: the frame and the object (track).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minisora.eval.analyzer import Analysis
from minisora.eval.checks import CHECKS
from minisora.world.prompt import Group, PromptMeaning, read_prompt

KINDS = (
    "count",
    "binding",
    "spatial",
    "motion",
    "gravity",
    "bounce",
    "collision",
    "occlusion",
    "permanence",
    "camera",
    "long_horizon",
    "av_sync",
)


@dataclass
class Verdict:
    kind: str
    text: str
    passed: bool
    detail: str = ""
    frame: int | None = None
    track: int | None = None
    value: float | None = None


@dataclass
class Claim:
    kind: str
    text: str
    check_name: str
    args: dict = field(default_factory=dict)

    def check(self, analysis: Analysis) -> Verdict:
        passed, detail, frame, track, value = CHECKS[self.check_name](analysis, **self.args)
        return Verdict(self.kind, self.text, bool(passed), detail, frame, track, value)


# -- compiling ---------------------------------------------------------------------------------
def compile_claims(prompt: str, duration: float = 4.0) -> list[Claim]:
    """Every claim the prompt makes that the analyzer can check."""
    meaning = read_prompt(prompt)
    claims: list[Claim] = []
    names = [_name(g) for g in meaning.groups]
    for i, group in enumerate(meaning.groups):
        claims += _group_claims(i, group, names[i], meaning)
    counted = [g.count for g in meaning.groups]
    if all(c is not None for c in counted):
        claims.append(
            Claim("count", f"exactly {sum(counted)} objects in all", "total", {"n": sum(counted)})
        )
    for a, relation, b in meaning.relations:
        text = f"the {names[a]} is {relation.replace('_', ' ')} the {names[b]}"
        claims.append(
            Claim(
                "spatial",
                text,
                "relation",
                {
                    "a": _look(meaning.groups[a]),
                    "relation": relation,
                    "b": _look(meaning.groups[b]),
                },
            )
        )
    for hitter, target in meaning.hits:
        claims += _hit_claims(meaning, names, hitter, target)
    for occluder in meaning.occluders:
        for k in occluder.subject:
            text = f"the {names[k]} passes behind the {occluder.kind} and comes out the same object"
            claims.append(
                Claim("occlusion", text, "passes_behind", {"look": _look(meaning.groups[k])})
            )
    if meaning.camera:
        claims.append(
            Claim(
                "camera", f"the camera pans {meaning.camera}", "pan", {"direction": meaning.camera}
            )
        )
    claims.append(Claim("permanence", "nothing appears or vanishes in the open", "permanence"))
    if duration >= 20 and all(c is not None for c in counted):
        n = sum(counted)
        claims.append(
            Claim("long_horizon", f"{n} objects stay visible to the end", "count_stable", {"n": n})
        )
        claims.append(Claim("long_horizon", "no object's colour drifts", "color_drift"))
    if any(g.motion in ("bounce", "fall", "fly") for g in meaning.groups) or meaning.hits:
        claims.append(
            Claim("av_sync", "each visible contact makes a sound at that moment", "av_sync")
        )
    return claims


def _group_claims(i: int, group: Group, name: str, meaning: PromptMeaning) -> list[Claim]:
    look = _look(group)
    claims = []
    if group.count is not None:
        claims.append(
            Claim(
                "count", f"exactly {group.count} {name}", "count", {"look": look, "n": group.count}
            )
        )
    if group.color and group.shape:
        shared = [g.shape for g in meaning.groups if g.color == group.color]
        if None not in shared:
            text = f"every {group.color} object is a {' or '.join(sorted(set(shared)))}"
            claims.append(
                Claim(
                    "binding",
                    text,
                    "binding",
                    {"color": group.color, "shapes": sorted(set(shared))},
                )
            )
    direction = group.direction
    if direction is None and group.motion == "fall":
        direction = "down"
    if direction is not None:
        claims.append(
            Claim(
                "motion",
                f"the {name} moves {direction}",
                "direction",
                {"look": look, "direction": direction},
            )
        )
    if group.motion in ("fall", "bounce", "fly"):
        claims.append(
            Claim(
                "gravity", f"the {name} falls with the world's gravity", "gravity", {"look": look}
            )
        )
    if group.motion == "bounce":
        text = f"the {name} bounces" + (f" like {group.material}" if group.material else "")
        claims.append(Claim("bounce", text, "bounce", {"look": look, "material": group.material}))
    return claims


def _hit_claims(
    meaning: PromptMeaning, names: list[str], hitter: int, target: int | None
) -> list[Claim]:
    if target is None:
        return []
    a, b = _look(meaning.groups[hitter]), _look(meaning.groups[target])
    claims = [
        Claim(
            "collision", f"the {names[hitter]} hits the {names[target]}", "hit", {"a": a, "b": b}
        ),
        Claim(
            "collision",
            f"the {names[target]} moves only after it is hit",
            "still_until_hit",
            {"a": a, "b": b},
        ),
    ]
    for k, color in meaning.rules:
        if k == target:
            text = f"the {names[target]} turns {color} when hit, not before"
            claims.append(
                Claim("collision", text, "turns_after_hit", {"a": a, "b": b, "color": color})
            )
    return claims


def _look(group: Group) -> dict:
    return {"color": group.color, "shape": group.shape, "size": group.size}


def _name(group: Group) -> str:
    words = [w for w in (group.size, group.color, group.shape or "object") if w]
    return " ".join(words) + ("s" if (group.count or 1) > 1 else "")
