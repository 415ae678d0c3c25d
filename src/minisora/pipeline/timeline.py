"""Long videos chunk by chunk: plans of chunks, and growing a clip forward or backward.

A chunk holds at most `window` latent frames. Growing forward, each chunk's context is the
last `context` latent frames (4 * context + 1 frames) of what exists, re-encoded as the start
of a clip exactly as in training, and the new frames follow; the final chunk may also hold the
frames that must come after (connect, loop). Growing backward mirrors it. Memory is that of
one chunk whatever the length, and every chunk after the first costs the same, so the time per
added second is flat (the output frames themselves are the only thing that grows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from minisora.pipeline.chunks import ChunkInputs, ChunkPlan, ChunkResult

RunChunk = Callable[[ChunkPlan, ChunkInputs], ChunkResult]


def context_frames(have: int, context: int) -> int:
    """Frames of context a chunk takes from `have` existing ones: 4j + 1 with j <= context."""
    return 0 if have == 0 else 4 * min(context, (have - 1) // 4) + 1


def plan_forward(have: int, new_frames: int, window: int, context: int, after: int = 0) -> list[ChunkPlan]:
    """Chunks that add `new_frames` after `have` existing frames; the last one holds `after`.

    With `after`, the new frames end exactly on the after clip's first frame, so `new_frames`
    must then be a multiple of 4 (that frame included) and `have` > 0."""
    if after and (new_frames % 4 or have == 0):
        raise ValueError("a chunk with frames after it needs a multiple of 4 new frames and frames before")
    after_latents = 0 if after == 0 else (after - 1) // 4
    plans: list[ChunkPlan] = []
    while new_frames > 0:
        before = context_frames(have, context)
        room = window - (before - 1) // 4 - 1 if before else window
        need = -(-new_frames // 4) if before else -(-(new_frames + 3) // 4)
        if after and need + after_latents <= room:
            plan = ChunkPlan(before, need, after)
        elif after:
            plan = ChunkPlan(before, min(room, need - 1), 0)  # leave at least one for the last chunk
        else:
            plan = ChunkPlan(before, min(room, need), 0)
        plans.append(plan)
        made = min(plan.new_frames, new_frames)
        have, new_frames = have + made, new_frames - made
    return plans


def chunk_windows(frames: int, window: int, context: int) -> list[tuple[int, int]]:
    """The frames [start, stop) that each chunk of a new clip of `frames` frames covers, its
    context included: where text-to-video's chunks sit on the clip's timeline."""
    have, windows = 0, []
    for plan in plan_forward(0, frames, window, context):
        windows.append((have - plan.before, have + plan.new_frames))
        have += min(plan.new_frames, frames - have)
    return windows


def plan_backward(have: int, new_frames: int, window: int, context: int) -> list[ChunkPlan]:
    """Chunks that add `new_frames` (a multiple of 4) before `have` existing frames."""
    if new_frames % 4:
        raise ValueError("growing backward adds a multiple of 4 frames")
    plans = []
    while new_frames > 0:
        after = max(5, context_frames(have, context))  # a lone frame is held for 5 (see context_head)
        room = window - (after - 1) // 4
        plan = ChunkPlan(0, min(room, new_frames // 4 + 1), after)
        plans.append(plan)
        have, new_frames = have + plan.new_frames - 1, new_frames - (plan.new_frames - 1)
    return plans


def context_head(frames: np.ndarray, count: int) -> np.ndarray:
    """The first `count` frames; a clip shorter than that is held on its last frame."""
    if frames.shape[0] >= count:
        return frames[:count]
    hold = np.repeat(frames[-1:], count - frames.shape[0], axis=0)
    return np.concatenate([frames, hold])


@dataclass
class Growth:
    """What growing a clip made: the new frames (in order) and the chunks it took."""

    frames: np.ndarray  # (N, H, W, 3) uint8
    chunks: list[ChunkResult] = field(default_factory=list)


def grow_forward(run: RunChunk, video: np.ndarray | None, new_frames: int, window: int, context: int,
                 after: np.ndarray | None = None, init: np.ndarray | None = None,
                 video_generated: bool = False) -> Growth:
    """`new_frames` frames that follow `video` (None: a new clip) and, if given, lead into `after`
    (whose first frame the last new frame becomes; it is dropped). `init`: frames to edit.
    `video_generated`: the model made `video`, so its context is lightly noised too."""
    have = 0 if video is None else video.shape[0]
    after_count = 0 if after is None else max(5, context_frames(after.shape[0], context))
    total = new_frames + (1 if after is not None else 0)
    parts: list[np.ndarray] = [] if video is None else [video]
    chunks: list[ChunkResult] = []
    start = have
    for plan in plan_forward(have, total, window, context, after_count):
        inputs = ChunkInputs(
            before=_tail(parts, plan.before) if plan.before else None,
            after=context_head(after, plan.after) if plan.after else None,
            init=None if init is None else init[start - have:start - have + plan.new_frames],
            generated_context=video_generated or start > have)
        result = run(plan, inputs)
        chunks.append(result)
        parts.append(result.frames)
        start += result.frames.shape[0]
    frames = np.concatenate(parts[1:] if video is not None else parts)
    return Growth(frames[:new_frames], chunks)


def grow_backward(run: RunChunk, video: np.ndarray, new_frames: int, window: int, context: int) -> Growth:
    """`new_frames` (a multiple of 4) frames that lead into `video`, generated last to first."""
    parts: list[np.ndarray] = [video]  # latest first: parts[-1] is the earliest
    chunks: list[ChunkResult] = []
    for index, plan in enumerate(plan_backward(video.shape[0], new_frames, window, context)):
        head = _head(parts, plan.after)
        result = run(plan, ChunkInputs(after=context_head(head, plan.after), generated_context=index > 0))
        chunks.append(result)
        parts.append(result.frames[:-1])  # the last new frame is the first of what follows
    return Growth(np.concatenate(list(reversed(parts[1:]))), chunks)


def _tail(parts: list[np.ndarray], count: int) -> np.ndarray:
    """The last `count` frames of parts joined in order (only the parts needed are copied)."""
    taken, total = [], 0
    for part in reversed(parts):
        taken.append(part)
        total += part.shape[0]
        if total >= count:
            break
    return np.concatenate(list(reversed(taken)))[-count:]


def _head(parts_latest_first: list[np.ndarray], count: int) -> np.ndarray:
    """The first (up to) `count` frames of parts given latest first, in time order."""
    taken, total = [], 0
    for part in reversed(parts_latest_first):
        taken.append(part)
        total += part.shape[0]
        if total >= count:
            break
    return np.concatenate(taken)[:count]
