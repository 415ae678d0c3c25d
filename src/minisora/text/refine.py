"""Prompt refinement: a short user prompt -> a detailed caption in the training captions' style.

The model was trained on the world captioner's detailed descriptions, so a short prompt is
expanded the way DALL-E 3 and Sora describe (recaptioning, then expanding user prompts with
a language model), except that here the "language model" is exact: the world's prompt parser
fills in what the prompt leaves open (counts, colours, sizes, positions, motion) from the seed,
the scene is simulated, and the world's captioner describes the result. The refined caption is
returned with the scene spec so that callers can show it to the user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RefinedPrompt:
    prompt: str  # what the user wrote
    caption: str  # the detailed caption the model is conditioned on
    spec: Any  # the world SceneSpec the caption describes

    def __str__(self) -> str:
        return f"prompt: {self.prompt}\nrefined: {self.caption}"


def refine_prompt(prompt: str, *, seed: int = 0, width: int = 64, height: int = 64, fps: int = 16,
                  duration: float = 4.0) -> RefinedPrompt:
    """Expand `prompt` into a training-style caption; raises PromptError for words the world
    does not know (its message lists them). Deterministic in (prompt, seed, size, fps, duration)."""
    from minisora.world.physics import simulate
    from minisora.world.prompt import parse_prompt

    try:
        from minisora.world.captions import caption_clip
    except ImportError:
        raise RuntimeError("prompt refinement needs the world's captioner (minisora.world.captions), "
                           "which this install lacks; pass the caption directly instead") from None
    spec = parse_prompt(prompt, width=width, height=height, fps=fps, duration=duration, seed=seed)
    caption = caption_clip(spec, simulate(spec))
    return RefinedPrompt(prompt=prompt, caption=caption, spec=spec)


@dataclass(frozen=True)
class Storyboard:
    """A long video's scene simulated once over its whole length; `caption(start, stop)` is
    the training-style caption of the frames in [start, stop) (see world/storyboard.py)."""

    prompt: str
    spec: Any  # the world SceneSpec, laid out for the first chunk and run for the whole length
    trajectory: Any  # its simulation

    def caption(self, start: int, stop: int) -> str:
        from minisora.world.storyboard import caption_windows

        stop = min(stop, len(self.trajectory.times))
        return caption_windows(self.spec, self.trajectory, [(min(start, stop - 1), stop)])[0]


def storyboard_prompt(prompt: str, *, seed: int = 0, width: int = 64, height: int = 64, fps: int = 16,
                      duration: float = 4.0, length: float = 60.0) -> Storyboard:
    """Lay `prompt` out as `refine_prompt` does for a clip of `duration` seconds (the first
    chunk: its window is captioned as that clip), then simulate the scene for `length` seconds,
    to caption its later windows one by one. Raises PromptError as `refine_prompt` does."""
    from minisora.world.physics import simulate
    from minisora.world.prompt import parse_prompt
    from minisora.world.storyboard import lengthen

    spec = parse_prompt(prompt, width=width, height=height, fps=fps, duration=duration, seed=seed)
    spec = lengthen(spec, max(length, duration))
    return Storyboard(prompt, spec, simulate(spec))


def caption_count(caption: str) -> int:
    """How many objects `caption` names, as the world's prompt reader reads it ("Two red balls.
    Another red ball ..." -> 3); 0 when it cannot tell (a plural without a number, words the
    world does not know, no objects, or no world installed). The DiT's count embedding is
    conditioned on it: the refined caption names every object, so at generation it is exact."""
    try:
        from minisora.world.prompt import PromptError, read_prompt
    except ImportError:
        return 0
    try:
        groups = read_prompt(caption).groups
    except PromptError:
        return 0
    if any(g.count is None and g.plural for g in groups):
        return 0
    return sum(1 if g.count is None else g.count for g in groups)
