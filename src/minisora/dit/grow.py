"""Growing a trained DiT deeper without changing what it computes, or its patches finer.

An adaLN-Zero block starts as the identity (its gates, cross-attention output and modulation are
zero), so a deeper model can start from a shallower one's function exactly: its blocks keep
their weights and order, spread out over the new depth, and the blocks between them start as
identities that training then fills in (as in progressive stacking, but function-preserving).
Everything outside the blocks (patch and timestep embedding, text pooling, final layer) is copied.
An object-count embedding (`count_classes`) can be added the same way: it starts at zero.

A finer patch (e.g. 1x2x2 -> 1x1x1: four times the tokens, each a quarter of the area) keeps the
blocks and approximates the function: a fine token's embedding is the coarse one of a patch
filled with its cell's value (the coarse weights summed over the cells a fine cell replaces), its
output the mean of the coarse outputs it replaces, and the rotary positions keep their spacing
(`rope_scale` times fine/coarse), so attention sees the distances it was trained on.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from minisora.dit.config import DiTConfig
from minisora.dit.model import DiT


def finer_rope_scale(small: DiTConfig, patch: tuple[int, int, int]) -> tuple[float, float, float]:
    """The rotary scale a model re-patched from `small` to `patch` keeps its position spacing with."""
    return tuple(s * q / p for s, q, p in zip(small.rope_scale, patch, small.patch))


def can_grow(small: DiTConfig, large: DiTConfig) -> bool:
    """Whether `large` is `small` with more blocks, perhaps a count embedding `small` lacks and
    perhaps a finer patch (each size dividing `small`'s, the rotary scale following), and nothing
    else changed."""
    counts = large.count_classes == small.count_classes or small.count_classes == 0
    finer = (all(p % q == 0 for p, q in zip(small.patch, large.patch))
             and large.rope_scale == finer_rope_scale(small, large.patch))
    same = replace(large, depth=small.depth, count_classes=small.count_classes, patch=small.patch,
                   rope_scale=small.rope_scale)
    return large.depth >= small.depth and counts and finer and same == small


def finer_patch(state: dict[str, torch.Tensor], small: DiTConfig, patch: tuple[int, int, int]) -> None:
    """Re-cut the patch embedding and the final projection of `small`'s weights in `state` (in
    place) for the finer `patch`. Features are (C, pt, ph, pw) in patchify's order; a coarse cell i
    along an axis lies in the fine cell i // r, r = coarse / fine."""
    c, (qt, qh, qw) = small.latent_channels, patch
    rt, rh, rw = (p // q for p, q in zip(small.patch, patch))
    if (rt, rh, rw) == (1, 1, 1):
        return
    embed = state["patch_embed.weight"]  # (D, C*pt*ph*pw)
    state["patch_embed.weight"] = (embed.reshape(-1, c, qt, rt, qh, rh, qw, rw).sum((3, 5, 7))
                                   .reshape(embed.shape[0], -1))
    for name in ("final.linear.weight", "final.linear.bias"):  # (C*pt*ph*pw, D) and (C*pt*ph*pw,)
        value = state[name]
        fine = value.reshape(c, qt, rt, qh, rh, qw, rw, -1).mean((2, 4, 6))
        state[name] = fine.reshape(c * qt * qh * qw, *value.shape[1:])


def kept_positions(depth: int, new_depth: int) -> list[int]:
    """Where the `depth` trained blocks go among `new_depth`: evenly spread, first block first
    (6 into 9: 0, 1, 3, 4, 6, 7; the new identities at 2, 5 and 8)."""
    return [i * new_depth // depth for i in range(depth)]


def grown_state(small: DiT, large: DiTConfig) -> dict[str, torch.Tensor]:
    """A state dict of a DiT(`large`) computing what `small` computes (float32); with a finer patch,
    approximately (see the module's docstring)."""
    if not can_grow(small.config, large):
        raise ValueError(f"cannot grow {small.config} into {large}: only the depth may differ, and only "
                         "upwards, a count embedding be added, and the patch be cut finer")
    grown = DiT(large)  # new blocks come out of reset_parameters as identities
    state = {k: v.detach().float().clone() for k, v in grown.state_dict().items()}
    positions = kept_positions(small.config.depth, large.depth)  # the identity when the depth is the same
    for key, value in small.state_dict().items():
        if key.startswith("blocks."):
            _, index, rest = key.split(".", 2)
            key = f"blocks.{positions[int(index)]}.{rest}"
        state[key] = value.detach().float().clone()
    finer_patch(state, small.config, large.patch)
    return state
