"""The transformer's layers: QK-normalised attention (self, with 3D RoPE, and cross, to text),
the timestep embedding and the adaLN-Zero block.

Follows DiT (Peebles & Xie 2023) for adaLN-Zero, PixArt-alpha for cross-attention to text
between self-attention and the MLP, and SD3 for RMSNorm on queries and keys. Attention is
PyTorch's scaled_dot_product_attention, which runs a flash kernel on CPU (memory linear in
the sequence length). Modulation is per frame: a token is shifted, scaled and gated by the
embedding of its own frame's timestep, which is what lets conditioning frames sit at t = 0
next to noisy frames in one sequence.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from minisora.dit.rope import apply_rope


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x (B, T, S, D) by per-frame shift/scale (B, T, 1, D): x (1 + scale) + shift, fused."""
    return torch.addcmul(shift, x, 1 + scale)


def rms_norm(x: torch.Tensor, norm: nn.RMSNorm) -> torch.Tensor:
    """RMSNorm in x's dtype (under bf16 autocast the fused kernel needs matching weight dtype)."""
    return F.rms_norm(x, norm.normalized_shape, norm.weight.to(x.dtype), norm.eps)


class SelfAttention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.q_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape  # (B, N, D)
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)  # (B, h, N, d) each
        q = apply_rope(rms_norm(q, self.q_norm), cos, sin)
        k = apply_rope(rms_norm(k, self.k_norm), cos, sin)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, h, N, d)
        return self.out(out.transpose(1, 2).reshape(b, n, -1))


class CrossAttention(nn.Module):
    """Image tokens attend to the text tokens; padding tokens are masked out."""

    def __init__(self, width: int, heads: int, text_dim: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(text_dim, 2 * width)
        self.q_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.out = nn.Linear(width, width)

    def keys(self, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(k, v), each (B, h, L, d), of the text tokens: the same at every sampling step."""
        b, length, _ = text.shape
        k, v = self.kv(text).view(b, length, 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        return rms_norm(k, self.k_norm), v

    def forward(self, x: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor,
                kv: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """x (B, N, D); text (B, L, text_dim); text_mask (B, L) bool; kv: keys(text), if made."""
        b, n, _ = x.shape
        q = rms_norm(self.q(x).view(b, n, self.heads, -1).transpose(1, 2), self.q_norm)  # (B, h, N, d)
        k, v = kv if kv is not None else self.keys(text)
        # float32: PyTorch's CPU flash kernel is ~3x slower in bf16 with a mask (measured, backward)
        out = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=text_mask[:, None, None, :])
        return self.out(out.to(x.dtype).transpose(1, 2).reshape(b, n, -1))


class Mlp(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))  # exact GELU: 6-9x faster than the tanh form on CPU


class TimestepEmbedder(nn.Module):
    """t in [0, 1] -> sinusoidal features of 1000 t -> MLP -> (..., width)."""

    def __init__(self, width: int, freq_dim: int) -> None:
        super().__init__()
        self.freq_dim = freq_dim
        self.mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.freq_dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
        args = 1000.0 * t.float()[..., None] * freqs  # (..., half)
        features = torch.cat([args.cos(), args.sin()], dim=-1)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


class DiTBlock(nn.Module):
    """adaLN-Zero block: self-attention, cross-attention to text, MLP; starts as the identity."""

    def __init__(self, width: int, heads: int, text_dim: int, mlp_ratio: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        self.cross = CrossAttention(width, heads, text_dim)
        self.norm3 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(width, int(width * mlp_ratio))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, x: torch.Tensor, c: torch.Tensor, grid: tuple[int, int, int], cos: torch.Tensor,
                sin: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape  # x (B, N, D) with N = T*H*W; c (B, T, D): one vector per frame
        frames = grid[0]
        mods = self.modulation(c).unsqueeze(2).chunk(6, dim=-1)  # 6 x (B, T, 1, D)
        shift1, scale1, gate1, shift2, scale2, gate2 = mods

        h = modulate(self.norm1(x).view(b, frames, -1, d), shift1, scale1).view(b, n, d)
        x = torch.addcmul(x.view(b, frames, -1, d), gate1, self.attn(h, cos, sin).view(b, frames, -1, d)).view(b, n, d)
        x = x + self.cross(self.norm2(x), text, text_mask)
        h = modulate(self.norm3(x).view(b, frames, -1, d), shift2, scale2).view(b, n, d)
        return torch.addcmul(x.view(b, frames, -1, d), gate2, self.mlp(h).view(b, frames, -1, d)).view(b, n, d)


class FinalLayer(nn.Module):
    def __init__(self, width: int, patch_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.linear = nn.Linear(width, patch_dim)

    def forward(self, x: torch.Tensor, c: torch.Tensor, frames: int) -> torch.Tensor:
        b, n, d = x.shape
        shift, scale = self.modulation(c).unsqueeze(2).chunk(2, dim=-1)  # (B, T, 1, D) each
        h = modulate(self.norm(x).view(b, frames, -1, d), shift, scale).view(b, n, d)
        return self.linear(h)  # (B, N, patch_dim)
