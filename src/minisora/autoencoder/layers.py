"""Causal 3D building blocks with an explicit streaming cache.

Every layer takes `(x, state)` and returns `(y, state)`: `state` holds what the layer must
remember of the past (the last input frames of a causal convolution, whether the first frame
has been seen). Whole-clip processing is the same code with one chunk, so streaming equals it
by construction. Time padding repeats the first frame on the past side only (CogVideoX); norms
act per position over channels, so nothing mixes time, and nothing depends on the image size.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

State = dict[str, Any]


class ChannelNorm(nn.Module):
    """RMS norm over channels at every (t, h, w): causal, size-independent, streaming-safe."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, ...): (B, C, T, H, W) or (N, C, H, W)
        rms = x.float().pow(2).mean(dim=1, keepdim=True).add(self.eps).rsqrt()
        return (x * rms.to(x.dtype)) * self.weight.view(1, -1, *[1] * (x.ndim - 2)).to(x.dtype)


class CausalConv3d(nn.Module):
    """A 3D convolution padded only on the past side in time, with a cache of past frames.

    With time kernel k and stride s, a chunk starts with the last k - s frames of the previous
    chunk (or k - 1 copies of the very first frame). Chunks must keep windows aligned: after the
    first chunk of 1 + s*m frames, each later chunk has a multiple of s frames.
    """

    def __init__(self, c_in: int, c_out: int, kernel: tuple[int, int, int] = (3, 3, 3),
                 stride: tuple[int, int, int] = (1, 1, 1)) -> None:
        super().__init__()
        self.kt, self.st = kernel[0], stride[0]
        self.pad_hw = (kernel[2] // 2, kernel[2] // 2, kernel[1] // 2, kernel[1] // 2)
        self.conv = nn.Conv3d(c_in, c_out, kernel, stride=stride)

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        # x: (B, C, T, H, W) -> (B, C', T', H', W')
        past = state.get("past")
        if past is None:
            past = x[:, :, :1].expand(-1, -1, self.kt - 1, -1, -1)
        x = torch.cat([past, x], dim=2)
        if (x.shape[2] - self.kt) % self.st:
            raise ValueError(
                f"chunk of {x.shape[2] - past.shape[2]} frames breaks the stride-{self.st} time windows; "
                "stream 1 + 4m frames first, then multiples of 4"
            )
        keep = self.kt - self.st
        # a copy, not a view: a view would keep the whole chunk alive and memory would grow
        new_past = x[:, :, x.shape[2] - keep:].clone()
        if any(self.pad_hw):
            x = F.pad(x, self.pad_hw)
        return self.conv(x), {"past": new_past}


class ResBlock(nn.Module):
    """norm -> SiLU -> causal conv, twice, plus a (1x1x1 projected) skip."""

    def __init__(self, c_in: int, c_out: int, kernel_t: int = 3) -> None:
        super().__init__()
        self.norm1, self.norm2 = ChannelNorm(c_in), ChannelNorm(c_out)
        self.conv1 = CausalConv3d(c_in, c_out, (kernel_t, 3, 3))
        self.conv2 = CausalConv3d(c_out, c_out, (kernel_t, 3, 3))
        self.skip = nn.Conv3d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, s1 = self.conv1(F.silu(self.norm1(x)), state.get("conv1", {}))
        h, s2 = self.conv2(F.silu(self.norm2(h)), state.get("conv2", {}))
        return self.skip(x) + h, {"conv1": s1, "conv2": s2}


class Downsample(nn.Module):
    """2x in space and, if `time`, 2x in time (first frame kept alone): a strided causal conv."""

    def __init__(self, c_in: int, c_out: int, time: bool) -> None:
        super().__init__()
        self.time = time
        self.conv = CausalConv3d(c_in, c_out, (3, 3, 3), stride=(2 if time else 1, 2, 2))

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.conv(x, state)


class Upsample(nn.Module):
    """2x nearest in space and, if `time`, 2x in time dropping the very first frame, then a conv.

    Time: latent frames (f0, f1, ...) become (f0, f1, f1, f2, f2, ...): the first frame alone,
    every later one twice, so 1 + m frames become 1 + 2m.
    """

    def __init__(self, c_in: int, c_out: int, time: bool) -> None:
        super().__init__()
        self.time = time
        self.conv = CausalConv3d(c_in, c_out, (3, 3, 3))

    def forward(self, x: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        # x: (B, C, T, H, W) -> (B, C', T*2 or T*2-1, 2H, 2W)
        started = state.get("started", False)
        if self.time:
            x = x.repeat_interleave(2, dim=2)
            if not started:
                x = x[:, :, 1:]
        b, c, t, h, w = x.shape
        x = F.interpolate(x.reshape(b, c * t, h, w), scale_factor=2.0, mode="nearest")
        x = x.reshape(b, c, t, 2 * h, 2 * w)
        y, conv_state = self.conv(x, state.get("conv", {}))
        return y, {"conv": conv_state, "started": True}
