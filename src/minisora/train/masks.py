"""Random conditioning masks over latent frames (Open-Sora 1.1): True marks a clean frame.

One model learns every prompting mode: text-to-video ("none"), image-to-video ("first"),
extension ("first_k" forward, "last" backward), connecting two clips ("first_last") and
infilling ("random"). At least one frame of every clip stays to be generated.
"""

from __future__ import annotations

import torch


def condition_mask(mode: str, frames: int, generator: torch.Generator) -> torch.Tensor:
    """(T',) bool mask of one clip for one mode."""
    mask = torch.zeros(frames, dtype=torch.bool)
    if frames < 2 or mode == "none":
        return mask
    k = int(torch.randint(1, frames, (1,), generator=generator))  # 1 .. T'-1 frames kept
    if mode == "first":
        mask[0] = True
    elif mode == "first_k":
        mask[:k] = True
    elif mode == "last":
        mask[frames - k:] = True
    elif mode == "first_last":
        mask[0] = mask[-1] = True
    elif mode == "random":
        mask = torch.rand(frames, generator=generator) < 0.5
    else:
        raise ValueError(f"conditioning mode {mode!r} is unknown")
    if mask.all():
        mask[int(torch.randint(0, frames, (1,), generator=generator))] = False
    return mask


def sample_condition_masks(batch: int, frames: int, modes: dict[str, float],
                           generator: torch.Generator) -> torch.Tensor:
    """(B, T') bool masks, each clip's mode drawn with the given weights."""
    names = list(modes)
    weights = torch.tensor([modes[n] for n in names], dtype=torch.float64)
    picks = torch.multinomial(weights, batch, replacement=True, generator=generator)
    return torch.stack([condition_mask(names[int(i)], frames, generator) for i in picks])
