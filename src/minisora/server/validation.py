"""Checking a job request against the limits: every refusal says what is allowed."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minisora.server.config import MODE_INPUTS, MODES, PROMPT_OPTIONAL, Limits
from minisora.server.forms import FormError

FIELDS = ("mode", "prompt", "negative", "width", "height", "seconds", "fps", "seed", "steps", "cfg",
          "direction", "strength")
DIRECTIONS = ("forward", "backward")
# the pipeline's own defaults (GenerateConfig), so a job that leaves them out repeats what the CLI does
DEFAULT_STEPS, DEFAULT_CFG, DEFAULT_STRENGTH = 25, 5.0, 0.6


@dataclass(frozen=True)
class JobRequest:
    mode: str
    prompt: str
    params: dict[str, Any]  # width, height, seconds, fps, seed, negative, steps, cfg (+ direction, strength)
    inputs: dict[str, Path]  # upload slot -> file in the job's upload folder


def check_job_request(fields: dict[str, Any], files: dict[str, Path], limits: Limits) -> JobRequest:
    """Turn form fields and uploads into a JobRequest, or raise FormError (4xx) saying why."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise FormError(400, f"unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}")
    mode = _text(fields, "mode", "text-to-video")
    if mode not in MODES:
        raise FormError(400, f"mode {mode!r} is unknown; choose one of {', '.join(MODES)}")
    prompt = _text(fields, "prompt", "").strip()
    if len(prompt) > limits.max_prompt_chars:
        raise FormError(400, f"the prompt has {len(prompt)} characters; at most {limits.max_prompt_chars} are allowed")
    if not prompt and mode not in PROMPT_OPTIONAL:
        raise FormError(400, f"mode {mode!r} needs a prompt describing the video")
    _check_inputs(mode, files)
    params = {
        "width": _integer(fields, "width", 64, limits.min_side, limits.max_side),
        "height": _integer(fields, "height", 64, limits.min_side, limits.max_side),
        "seconds": _number(fields, "seconds", 4.0, limits.min_seconds, limits.max_seconds),
        "fps": _integer(fields, "fps", 16, limits.min_fps, limits.max_fps),
        "seed": _integer(fields, "seed", None, 0, limits.max_seed),
    }
    for side in ("width", "height"):
        if params[side] % 16:
            raise FormError(400, f"{side} {params[side]} must be a multiple of 16 (for example 64, 96, 112, 144)")
    _check_aspect(params["width"], params["height"])
    if params["seed"] is None:
        params["seed"] = secrets.randbelow(limits.max_seed + 1)  # recorded, so the job repeats
    params.update(_sampling(fields, limits))
    params.update(_mode_options(mode, fields))
    return JobRequest(mode, prompt, params, dict(files))


def _sampling(fields: dict[str, Any], limits: Limits) -> dict[str, Any]:
    """What the world model's sampler is asked for (the world's renderer, without a model, ignores it)."""
    negative = _text(fields, "negative", "").strip()
    if len(negative) > limits.max_prompt_chars:
        raise FormError(400, f"the negative prompt has {len(negative)} characters; at most "
                             f"{limits.max_prompt_chars} are allowed")
    return {"negative": negative, "steps": _integer(fields, "steps", DEFAULT_STEPS, 1, limits.max_steps),
            "cfg": _number(fields, "cfg", DEFAULT_CFG, 0.0, limits.max_cfg)}


def _mode_options(mode: str, fields: dict[str, Any]) -> dict[str, Any]:
    """extend's direction and edit's strength, refused for the modes they do not apply to."""
    options: dict[str, Any] = {}
    if mode == "extend":
        options["direction"] = _text(fields, "direction", "forward")
        if options["direction"] not in DIRECTIONS:
            raise FormError(400, f"direction {options['direction']!r} is unknown; choose {' or '.join(DIRECTIONS)}")
    elif "direction" in fields:
        raise FormError(400, "direction applies only to mode 'extend'; remove it")
    if mode == "edit":
        options["strength"] = _number(fields, "strength", DEFAULT_STRENGTH, 0.0, 1.0)
        if options["strength"] == 0:
            raise FormError(400, "strength 0 would keep the video as it is: use a value above 0 and at most 1 "
                                 "(0.3 keeps much of the video, 0.9 little)")
    elif "strength" in fields:
        raise FormError(400, "strength applies only to mode 'edit'; remove it")
    return options


def _check_inputs(mode: str, files: dict[str, Path]) -> None:
    needed = MODE_INPUTS[mode]
    missing = [slot for slot in needed if slot not in files]
    extra = [slot for slot in files if slot not in needed]
    takes = f"mode {mode!r} takes " + (f"uploads {', '.join(needed)}" if needed else "no uploads")
    if missing:
        raise FormError(400, f"{takes}: upload {missing[0]!r} ({needed[missing[0]]}) is missing")
    if extra:
        raise FormError(400, f"{takes}: remove upload {extra[0]!r}")


def _check_aspect(width: int, height: int) -> None:
    from minisora.world.spec import SpecError, aspect_name

    try:
        aspect_name(width, height)
    except SpecError as exc:
        raise FormError(400, str(exc)) from None


def _text(fields: dict[str, Any], name: str, default: str) -> str:
    value = fields.get(name, default)
    if not isinstance(value, str):
        raise FormError(400, f"{name} must be text, got {value!r}")
    return value


def _number(fields: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = fields.get(name, default)
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise FormError(400, f"{name} must be a number from {low} to {high}, got {value!r}")
    if not low <= number <= high:
        raise FormError(400, f"{name} {number:g} is out of range: use {low:g} to {high:g}")
    return number


def _integer(fields: dict[str, Any], name: str, default: int | None, low: int, high: int) -> int | None:
    value = fields.get(name, default)
    if value is None or (value == "" and default is None):
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormError(400, f"{name} must be a whole number from {low} to {high}, got {value!r}")
    if not low <= value <= high:
        raise FormError(400, f"{name} {value} is out of range: use {low} to {high}")
    return value


def check_uploads(request: JobRequest, limits: Limits) -> None:
    """Each upload must open as the kind its slot takes (an image, or a video with frames)."""
    from minisora.media import MediaError, probe

    for slot, path in request.inputs.items():
        kind = MODE_INPUTS[request.mode][slot]
        try:
            info = probe(path)
        except MediaError:
            raise FormError(415, f"upload {slot!r} is not a readable {kind}; send "
                                 f"{'a PNG, JPEG or WebP image' if kind == 'image' else 'an MP4, MOV, WebM, MKV or GIF video'}") from None
        if max(info.width, info.height) > limits.max_input_side:
            raise FormError(400, f"upload {slot!r} is {info.width}x{info.height}; the longest side may be "
                                 f"at most {limits.max_input_side} px")
        if kind == "video" and info.duration > limits.max_input_seconds:
            raise FormError(400, f"upload {slot!r} lasts {info.duration:.1f} s; at most "
                                 f"{limits.max_input_seconds:g} s are allowed")


def check_prompt_renders(request: JobRequest) -> None:
    """Text-to-video renders the prompt's scene: a prompt the world cannot read is refused now,
    with the parser's own explanation, instead of failing later in the queue."""
    if request.mode != "text-to-video":
        return
    from minisora.world.prompt import parse_prompt

    params = request.params
    try:
        parse_prompt(request.prompt, width=params["width"], height=params["height"], fps=params["fps"],
                     duration=params["seconds"], seed=params["seed"])
    except ValueError as exc:
        raise FormError(400, f"the prompt cannot be rendered: {exc}") from None
