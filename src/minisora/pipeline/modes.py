"""Every prompting mode as a composition of the same two moves: grow forward, grow backward.

    text-to-video    grow a new clip                          (no given latent frames)
    image-to-video   grow forward from a one-frame clip        (the image's latent frame given)
    extend           grow forward from the clip                (the clip's last second given)
    extend-backward  grow backward into the clip               (the clip's first second given, after)
    extend-loop      grow forward from the clip into its own start (a transition that closes it)
    loop             grow a clip, then a seam from its end into its own start (given on both sides)
    connect          grow forward from clip A into clip B      (A's end before, B's start after)
    edit             grow a new clip starting from the input's latents noised to t = strength

Frames here are at the model's frame rate; a Segment says how each part of the output is
timed so that generate() can resample it to the output's frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minisora.pipeline.chunks import ChunkResult
from minisora.pipeline.timeline import RunChunk, grow_backward, grow_forward


@dataclass
class Segment:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float
    continuation: bool  # True: starts one frame after the previous segment's last frame


@dataclass
class Sources:
    """The inputs, conformed to the output size; `*_model` copies are at the model's frame rate."""

    image: np.ndarray | None = None  # (1, H, W, 3)
    clip: np.ndarray | None = None  # extend / edit input, at its own fps
    clip_fps: float = 16.0
    clip_model: np.ndarray | None = None
    second: np.ndarray | None = None  # connect: the clip to reach, at its own fps
    second_fps: float = 16.0
    second_model: np.ndarray | None = None


@dataclass
class Made:
    segments: list[Segment]
    chunks: list[ChunkResult]
    loop: bool = False  # one segment that wraps around: its frame after the last is its first


def new_frames(seconds: float, model_fps: int) -> int:
    """Frames the model makes for `seconds`, rounded up to whole latent frames (4 frames each)."""
    return 4 * max(1, -(-round(seconds * model_fps * 1000) // 4000))


def seam_latents(loop_frames: int, window: int, context: int) -> int:
    """Latent frames regenerated where a loop closes: half the loop, as many as a chunk holds."""
    return max(1, min(window - 2 * context - 1, loop_frames // 8))


def make(mode: str, run: RunChunk, src: Sources, frames: int, window: int, context: int, fps: int) -> Made:
    """Run one mode; `frames` is the number of new frames at the model's frame rate `fps`."""
    if mode == "text-to-video":
        grown = grow_forward(run, None, frames + 1, window, context)
        return Made([Segment(grown.frames, fps, False)], grown.chunks)
    if mode == "image-to-video":
        grown = grow_forward(run, src.image, frames, window, context)
        return Made([Segment(src.image, fps, False), Segment(grown.frames, fps, True)], grown.chunks)
    if mode == "extend":
        grown = grow_forward(run, src.clip_model, frames, window, context)
        return Made([Segment(src.clip, src.clip_fps, False), Segment(grown.frames, fps, True)], grown.chunks)
    if mode == "extend-backward":
        grown = grow_backward(run, src.clip_model, frames, window, context)
        return Made([Segment(grown.frames, fps, False), Segment(src.clip, src.clip_fps, True)], grown.chunks)
    if mode == "extend-loop":
        grown = grow_forward(run, src.clip_model, frames - 1, window, context, after=src.clip_model)
        # the transition ends one frame before the clip's first: the two parts just join
        return Made([Segment(src.clip, src.clip_fps, False), Segment(grown.frames, fps, True)], grown.chunks)
    if mode in ("loop", "image-loop"):
        return make_loop(run, src.image, frames, window, context, fps)
    if mode == "connect":
        grown = grow_forward(run, src.clip_model, frames - 1, window, context, after=src.second_model)
        return Made([Segment(src.clip, src.clip_fps, False), Segment(grown.frames, fps, True),
                     Segment(src.second, src.second_fps, True)], grown.chunks)
    if mode == "edit":
        count = 4 * ((src.clip_model.shape[0] - 1) // 4) + 1
        grown = grow_forward(run, None, count, window, context, init=src.clip_model[:count])
        return Made([Segment(grown.frames, fps, False)], grown.chunks)
    raise ValueError(f"mode {mode!r} is unknown")


def make_loop(run: RunChunk, image: np.ndarray | None, frames: int, window: int, context: int,
              fps: int) -> Made:
    """A clip of `frames` frames whose last frame flows into its first.

    First the clip without its seam (from text, or from the image), then the seam: a chunk that
    starts from the clip's end and must arrive at the clip's own first frame."""
    seam = 4 * seam_latents(frames, window, context)
    body_new = frames - seam + (0 if image is not None else 1)
    body = grow_forward(run, image, body_new, window, context)  # seam <= frames / 2: never empty
    video = body.frames if image is None else np.concatenate([image, body.frames])
    closing = grow_forward(run, video, seam - 1, window, context, after=video, video_generated=True)
    loop = np.concatenate([video, closing.frames])  # frames long; frame `frames` would be frame 0
    return Made([Segment(loop, fps, False)], body.chunks + closing.chunks, loop=True)
