"""Growing a trained DiT deeper without changing what it computes.

An adaLN-Zero block starts as the identity (its gates, cross-attention output and modulation are
zero), so a deeper model can start from a shallower one's function exactly: its blocks keep
their weights and order, spread out over the new depth, and the blocks between them start as
identities that training then fills in (as in progressive stacking, but function-preserving).
Everything outside the blocks (patch and timestep embedding, text pooling, final layer) is copied.
An object-count embedding (`count_classes`) can be added the same way: it starts at zero.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from minisora.dit.config import DiTConfig
from minisora.dit.model import DiT


def can_grow(small: DiTConfig, large: DiTConfig) -> bool:
    """Whether `large` is `small` with more blocks, and perhaps a count embedding `small` lacks,
    and nothing else changed."""
    counts = large.count_classes == small.count_classes or small.count_classes == 0
    return (large.depth >= small.depth and counts
            and replace(large, depth=small.depth, count_classes=small.count_classes) == small)


def kept_positions(depth: int, new_depth: int) -> list[int]:
    """Where the `depth` trained blocks go among `new_depth`: evenly spread, first block first
    (6 into 9: 0, 1, 3, 4, 6, 7; the new identities at 2, 5 and 8)."""
    return [i * new_depth // depth for i in range(depth)]


def grown_state(small: DiT, large: DiTConfig) -> dict[str, torch.Tensor]:
    """A state dict of a DiT(`large`) computing what `small` computes (float32)."""
    if not can_grow(small.config, large):
        raise ValueError(f"cannot grow {small.config} into {large}: only the depth may differ, and only "
                         "upwards, and a count embedding be added")
    grown = DiT(large)  # new blocks come out of reset_parameters as identities
    state = {k: v.detach().float().clone() for k, v in grown.state_dict().items()}
    positions = kept_positions(small.config.depth, large.depth)  # the identity when the depth is the same
    for key, value in small.state_dict().items():
        if key.startswith("blocks."):
            _, index, rest = key.split(".", 2)
            key = f"blocks.{positions[int(index)]}.{rest}"
        state[key] = value.detach().float().clone()
    return state
