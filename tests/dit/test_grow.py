"""Growing a DiT deeper keeps its function exactly: new adaLN-Zero blocks are identities."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from minisora.dit.config import dit_config
from minisora.dit.grow import can_grow, grown_state, kept_positions
from minisora.dit.model import DiT


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
