"""3D rotary position embedding over (time, height, width) patch indices.

Each head's channels are split into three groups that rotate with the token's frame, row and
column index (as in Open-Sora 2.0, Wan and HunyuanVideo, after RoFormer's 1D rotary), so that
attention sees only relative offsets: any size, aspect ratio and duration uses the same weights.
A frame offset shifts the time positions, so a chunk that extends a video continues its clock.
"""

from __future__ import annotations

import torch


def axis_frequencies(dim: int, theta: float) -> torch.Tensor:
    """(dim/2,) inverse frequencies of one axis."""
    return 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def rope_angles(grid: tuple[int, int, int], split: tuple[int, int, int], theta: float,
                frame_offset: int = 0, device: torch.device | None = None,
                scale: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> torch.Tensor:
    """(N, head_dim/2) rotation angles for the tokens of a (T, H, W) grid, in (t, h, w) order; a
    token's position along an axis is its index (the time index after `frame_offset`) times that
    axis's `scale`."""
    t, h, w = grid
    positions = torch.meshgrid(
        torch.arange(frame_offset, frame_offset + t, dtype=torch.float64) * scale[0],
        torch.arange(h, dtype=torch.float64) * scale[1],
        torch.arange(w, dtype=torch.float64) * scale[2],
        indexing="ij",
    )
    angles = [pos.reshape(-1, 1) * axis_frequencies(dim, theta) for pos, dim in zip(positions, split)
              if dim > 0]
    return torch.cat(angles, dim=1).float().to(device)  # (N, head_dim/2)


def rope_cos_sin(angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, head_dim) cos and sin, each angle repeated for the two halves of the head."""
    full = torch.cat([angles, angles], dim=-1)
    return full.cos(), full.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs (i, i + head_dim/2) of x (B, heads, N, head_dim) by (N, head_dim) angles
    (the "rotate half" layout of GPT-NeoX and Llama: the same rotation, contiguous halves)."""
    x1, x2 = x.chunk(2, dim=-1)
    rotated = torch.cat([-x2, x1], dim=-1)
    return x * cos.to(x.dtype) + rotated * sin.to(x.dtype)
