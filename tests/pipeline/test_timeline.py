"""Chunk plans and growth: exact frame counts, windows never exceeded, overlap carried over."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minisora.pipeline.chunks import ChunkPlan, ChunkResult
from minisora.pipeline.modes import Sources, make, new_frames, seam_latents
from minisora.pipeline.timeline import (
    context_head,
    grow_backward,
    grow_forward,
    plan_backward,
    plan_forward,
)


def test_chunk_plan_layout():
    plan = ChunkPlan(before=9, new=3, after=5)
    assert (plan.before_latents, plan.after_latents, plan.latents, plan.new_frames) == (3, 1, 7, 12)
    assert plan.mask().tolist() == [True] * 3 + [False] * 3 + [True]
    alone = ChunkPlan(before=0, new=5, after=0)
    assert alone.new_frames == 17 and not alone.mask().any()  # 4k+1: the first latent is one frame


@pytest.mark.parametrize("have,frames,window,context", [
    (0, 65, 17, 4), (0, 961, 17, 4), (1, 64, 17, 4), (21, 16, 5, 1), (0, 49, 5, 1), (3, 100, 9, 2),
])
def test_forward_plans_cover_exactly_within_the_window(have, frames, window, context):
    plans = plan_forward(have, frames, window, context)
    assert all(p.latents <= window and p.new >= 1 for p in plans)
    assert sum(p.new_frames for p in plans) - frames in range(4)  # the last chunk may overshoot < 4
    assert all(p.before == 4 * context + 1 for p in plans[1:])  # later chunks carry full context


@pytest.mark.parametrize("have,frames,window,context", [(21, 16, 5, 1), (33, 8, 17, 4), (5, 200, 9, 2)])
def test_forward_plans_with_frames_after_end_on_them(have, frames, window, context):
    plans = plan_forward(have, frames, window, context, after=4 * context + 1)
    assert sum(p.new_frames for p in plans) == frames
    assert [bool(p.after) for p in plans] == [False] * (len(plans) - 1) + [True]
    assert all(p.latents <= window for p in plans)


def test_backward_plans_add_exactly():
    plans = plan_backward(21, 64, 9, 2)
    assert sum(p.new_frames - 1 for p in plans) == 64
    assert all(p.before == 0 and p.after == 9 and p.latents <= 9 for p in plans)


def test_long_video_time_per_second_is_flat():
    """60 s at 16 fps in 17-latent chunks: every chunk after the first adds the same 3 s."""
    plans = plan_forward(0, new_frames(60, 16) + 1, 17, 4)
    assert {p.latents for p in plans[1:-1]} == {17}
    assert {p.new_frames for p in plans[1:-1]} == {48}
    assert len(plans) == 1 + -(-(961 - 65) // 48)


def fake_run(log):
    """A chunk runner whose new frames are the chunk's index (so joins can be checked)."""
    def run(plan, inputs):
        log.append((plan, inputs))
        frames = np.full((plan.new_frames, 4, 4, 3), len(log), np.uint8)
        return ChunkResult(plan, frames, plan.mask(), None, 1.0)
    return run


def test_grow_forward_passes_the_tail_of_what_exists_as_context():
    log = []
    video = np.arange(21, dtype=np.uint8)[:, None, None, None].repeat(4, 1).repeat(4, 2).repeat(3, 3)
    grown = grow_forward(fake_run(log), video, 16, window=5, context=1)
    assert grown.frames.shape[0] == 16
    np.testing.assert_array_equal(log[0][1].before, video[-5:])
    joined = np.concatenate([video, grown.frames])
    np.testing.assert_array_equal(log[1][1].before, joined[21 + 12 - 5:21 + 12])  # the overlap
    assert not log[0][1].generated_context and log[1][1].generated_context


def test_grow_backward_and_short_context_is_held():
    log = []
    video = np.full((3, 4, 4, 3), 200, np.uint8)
    grown = grow_backward(fake_run(log), video, 8, window=5, context=1)
    assert grown.frames.shape[0] == 8
    assert log[0][1].after.shape[0] == 5  # 3 frames held on the last one
    np.testing.assert_array_equal(context_head(video, 5)[3:], video[[2, 2]])


def test_loop_plan_seam_is_given_on_both_sides():
    log = []
    made = make("loop", fake_run(log), Sources(), 32, window=5, context=1, fps=16)
    assert made.loop and made.segments[0].frames.shape[0] == 32
    seam = log[-1][0]
    assert seam.mask().tolist() == [True, True] + [False] * seam_latents(32, 5, 1) + [True]


def test_edit_plans_follow_the_input():
    log = []
    clip = np.zeros((23, 4, 4, 3), np.uint8)
    made = make("edit", fake_run(log), Sources(clip=clip, clip_model=clip), 0, window=5, context=1, fps=16)
    assert made.segments[0].frames.shape[0] == 21  # trimmed to 4k + 1
    assert sum(inputs.init.shape[0] for _, inputs in log) == 21
    assert torch.equal(log[0][0].mask(), torch.zeros(5, dtype=torch.bool))
