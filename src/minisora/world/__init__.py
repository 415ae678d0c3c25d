"""The procedural physics world: scene spec, simulation, renderer, sound, captions, data."""

from minisora.world.captions import caption_clip, short_prompts
from minisora.world.clip import Clip, annotate, render_clip
from minisora.world.physics import Contact, Trajectory, simulate
from minisora.world.prompt import PromptError, parse_prompt
from minisora.world.sampler import SamplerConfig, is_heldout, sample_scene
from minisora.world.spec import (
    MATERIALS,
    PALETTE,
    SHAPES,
    SIZES,
    ObjectSpec,
    Occluder,
    Rule,
    SceneSpec,
    SpecError,
)

__all__ = [
    "MATERIALS",
    "PALETTE",
    "SHAPES",
    "SIZES",
    "Clip",
    "Contact",
    "ObjectSpec",
    "Occluder",
    "PromptError",
    "Rule",
    "SamplerConfig",
    "SceneSpec",
    "SpecError",
    "Trajectory",
    "annotate",
    "caption_clip",
    "is_heldout",
    "parse_prompt",
    "render_clip",
    "sample_scene",
    "short_prompts",
    "simulate",
]
