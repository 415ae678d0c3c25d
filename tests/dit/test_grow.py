"""Growing a DiT deeper keeps its function exactly: new adaLN-Zero blocks are identities; a finer
patch keeps its embedding, output and position spacing."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from minisora.dit.config import dit_config
from minisora.dit.grow import can_grow, finer_rope_scale, grown_state, kept_positions
from minisora.dit.model import DiT, patchify, unpatchify
from minisora.dit.rope import rope_angles


def test_kept_blocks_spread_over_the_new_depth():
    assert kept_positions(6, 9) == [0, 1, 3, 4, 6, 7]
    assert kept_positions(2, 2) == [0, 1] and kept_positions(1, 4) == [0]


def test_a_grown_model_computes_what_the_small_one_did_and_then_learns():
    torch.manual_seed(0)
    small = DiT(dit_config("tiny"))
    for p in small.parameters():  # trained-looking weights: nothing zero, so blocks are not identities
        p.data.normal_(0, 0.2)
    config = replace(small.config, depth=5)
    grown = DiT(config)
    grown.load_state_dict(grown_state(small, config))
    x, t = torch.randn(2, 4, 3, 4, 4), torch.rand(2, 3)
    text, mask = torch.randn(2, 5, small.config.text_dim), torch.ones(2, 5, dtype=torch.bool)
    torch.testing.assert_close(grown(x, t, text, mask), small(x, t, text, mask))
    assert torch.equal(grown.blocks[2].attn.qkv.weight, small.blocks[1].attn.qkv.weight)  # 2 into 5: 0, 2
    grown(x, t, text, mask).square().mean().backward()  # the new blocks' gates get a gradient
    assert grown.blocks[1].modulation[-1].weight.grad.abs().sum() > 0


def test_only_the_depth_may_grow():
    small = DiT(dit_config("tiny"))
    assert not can_grow(small.config, replace(small.config, depth=1))
    wider = dit_config("tiny", depth=6)  # derives a new width
    assert wider.width != small.config.width and not can_grow(small.config, wider)
    with pytest.raises(ValueError, match="cannot grow"):
        grown_state(small, wider)


def test_a_count_embedding_is_added_at_zero_and_not_taken_away():
    torch.manual_seed(0)
    small = DiT(dit_config("tiny"))
    for p in small.parameters():
        p.data.normal_(0, 0.2)
    config = replace(small.config, depth=3, count_classes=5)
    assert can_grow(small.config, config) and not can_grow(config, small.config)
    assert not can_grow(replace(small.config, count_classes=3), config)  # classes are not re-cut
    grown = DiT(config)
    grown.load_state_dict(grown_state(small, config))
    x, t = torch.randn(2, 4, 3, 4, 4), torch.rand(2, 3)
    text, mask = torch.randn(2, 5, small.config.text_dim), torch.ones(2, 5, dtype=torch.bool)
    torch.testing.assert_close(grown(x, t, text, mask, count=torch.tensor([2, 4])), small(x, t, text, mask))


def test_a_finer_patch_keeps_the_embedding_the_output_and_the_position_spacing():
    """1x2x2 -> 1x1x1: a fine token of a latent filled 2x2 cell by cell embeds as its coarse patch did,
    the fine outputs are the coarse patch's outputs averaged, and rotary positions keep their spacing."""
    torch.manual_seed(0)
    small = DiT(dit_config("tiny"))
    for p in small.parameters():
        p.data.normal_(0, 0.2)
    config = replace(small.config, patch=(1, 1, 1), rope_scale=finer_rope_scale(small.config, (1, 1, 1)))
    assert config.rope_scale == (1.0, 0.5, 0.5)
    assert can_grow(small.config, config) and not can_grow(config, small.config)  # never coarser
    assert not can_grow(small.config, replace(config, rope_scale=(1.0, 1.0, 1.0)))  # spacing must follow
    assert not can_grow(small.config, replace(small.config, patch=(1, 4, 4), rope_scale=(1.0, 2.0, 2.0)))
    fine = DiT(config)
    fine.load_state_dict(grown_state(small, config))
    coarse_x = torch.randn(2, 4, 3, 2, 2)
    x = coarse_x.repeat_interleave(2, dim=3).repeat_interleave(2, dim=4)  # (2, 4, 3, 4, 4), 2x2 blocks
    coarse = small.patch_embed(patchify(x, (1, 2, 2))).reshape(2, 3, 2, 2, -1)
    cut = fine.patch_embed(patchify(x, (1, 1, 1))).reshape(2, 3, 4, 4, -1)
    torch.testing.assert_close(cut, coarse.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3))
    h, c = torch.randn(2, 12, small.config.width), torch.randn(2, 3, small.config.width)  # 3 x 2 x 2 tokens
    out = unpatchify(small.final(h, c, 3), (1, 2, 2), (3, 2, 2), 4)  # (2, 4, 3, 4, 4)
    h_fine = h.reshape(2, 3, 2, 2, -1).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3).reshape(2, 48, -1)
    out_fine = unpatchify(fine.final(h_fine, c, 3), (1, 1, 1), (3, 4, 4), 4)
    block_mean = out.reshape(2, 4, 3, 2, 2, 2, 2).mean((4, 6))
    torch.testing.assert_close(out_fine, block_mean.repeat_interleave(2, dim=3).repeat_interleave(2, dim=4))
    coarse_angles = rope_angles((3, 2, 2), config.rope_split, config.rope_theta)
    fine_angles = rope_angles((3, 4, 4), config.rope_split, config.rope_theta, scale=config.rope_scale)
    torch.testing.assert_close(fine_angles.reshape(3, 4, 4, -1)[:, ::2, ::2], coarse_angles.reshape(3, 2, 2, -1))
    x_t, t = torch.randn(2, 4, 3, 4, 4), torch.rand(2, 3)
    text, mask = torch.randn(2, 5, small.config.text_dim), torch.ones(2, 5, dtype=torch.bool)
    assert fine(x_t, t, text, mask).shape == x_t.shape  # and it runs on the 4x finer grid
