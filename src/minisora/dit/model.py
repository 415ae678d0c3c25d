"""The diffusion transformer: a pure function v = f(x_t, t, text) over spacetime patches.

    latent (B, C, T', H', W') --patchify (pt, ph, pw)--> tokens (B, N, D), N = T'/pt * H'/ph * W'/pw
    per-frame t (B, T') --sinusoid + MLP--> c (B, T'/pt, D) (+ pooled text, + object count if configured)
    tokens --[adaLN-Zero self-attn (3D RoPE) -> cross-attn to text -> MLP] x depth--> final adaLN
    --> unpatchify --> velocity (B, C, T', H', W')

Following Sora's description (spacetime patches of a compressed latent), DiT (adaLN-Zero),
PixArt-alpha (cross-attention to text) and SD3 / Open-Sora (QK-norm, rectified flow).
"""

from __future__ import annotations

import torch
from torch import nn

from minisora.dit.blocks import DiTBlock, FinalLayer, TimestepEmbedder
from minisora.dit.config import DiTConfig
from minisora.dit.rope import rope_angles, rope_cos_sin


def patchify(x: torch.Tensor, patch: tuple[int, int, int]) -> torch.Tensor:
    """(B, C, T, H, W) -> (B, N, C*pt*ph*pw), tokens in (t, h, w) order."""
    b, c, t, h, w = x.shape
    pt, ph, pw = patch
    x = x.reshape(b, c, t // pt, pt, h // ph, ph, w // pw, pw)
    x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # (B, T/pt, H/ph, W/pw, C, pt, ph, pw)
    return x.reshape(b, (t // pt) * (h // ph) * (w // pw), c * pt * ph * pw)


def unpatchify(tokens: torch.Tensor, patch: tuple[int, int, int], grid: tuple[int, int, int],
               channels: int) -> torch.Tensor:
    """(B, N, C*pt*ph*pw) -> (B, C, T, H, W); the inverse of patchify."""
    b = tokens.shape[0]
    (pt, ph, pw), (gt, gh, gw) = patch, grid
    x = tokens.reshape(b, gt, gh, gw, channels, pt, ph, pw)
    x = x.permute(0, 4, 1, 5, 2, 6, 3, 7)  # (B, C, T/pt, pt, H/ph, ph, W/pw, pw)
    return x.reshape(b, channels, gt * pt, gh * ph, gw * pw)


class DiT(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config.validate()
        width = config.width
        self.patch_embed = nn.Linear(config.patch_dim, width)
        self.t_embed = TimestepEmbedder(width, config.freq_dim)
        self.text_pool = nn.Linear(config.text_dim, width)
        # the object count the refined caption names, as a class (0: unknown); zero-initialised so
        # that adding it to a trained model changes nothing until training uses it
        self.count_embed = nn.Embedding(config.count_classes, width) if config.count_classes else None
        self.blocks = nn.ModuleList(
            DiTBlock(width, config.heads, config.text_dim, config.mlp_ratio) for _ in range(config.depth)
        )
        self.final = FinalLayer(width, config.patch_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Xavier linears; zero modulation, cross-attention output and final projection (adaLN-Zero)."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for mlp_layer in (self.t_embed.mlp[0], self.t_embed.mlp[2]):
            nn.init.normal_(mlp_layer.weight, std=0.02)
        for block in self.blocks:
            for layer in (block.modulation[-1], block.cross.out):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        if self.count_embed is not None:
            nn.init.zeros_(self.count_embed.weight)
        for layer in (self.final.modulation[-1], self.final.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def check_inputs(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor,
                     text_mask: torch.Tensor) -> torch.Tensor:
        """Validate shapes; return t as (B, T') per-frame timesteps."""
        cfg = self.config
        if x.ndim != 5 or x.shape[1] != cfg.latent_channels:
            raise ValueError(f"latent of shape {tuple(x.shape)}: expected (B, {cfg.latent_channels}, T', H', W')")
        b, _, frames, height, width = x.shape
        if frames % cfg.patch[0] or height % cfg.patch[1] or width % cfg.patch[2]:
            raise ValueError(f"latent grid (T', H', W') = {(frames, height, width)} is not divisible by the "
                             f"patch {cfg.patch}; crop or pad the latent to a multiple of it")
        if t.ndim == 1:
            t = t[:, None].expand(-1, frames)
        if t.shape != (b, frames):
            raise ValueError(f"timesteps of shape {tuple(t.shape)}: expected (B,) or (B, T') = {(b, frames)}")
        if text.ndim != 3 or text.shape[0] != b or text.shape[2] != cfg.text_dim:
            raise ValueError(f"text tokens of shape {tuple(text.shape)}: expected (B, L, {cfg.text_dim})")
        if text_mask.shape != text.shape[:2] or text_mask.dtype != torch.bool:
            raise ValueError(f"text mask must be bool of shape {tuple(text.shape[:2])}, "
                             f"got {text_mask.dtype} {tuple(text_mask.shape)}")
        if not bool(text_mask.any(dim=1).all()):
            raise ValueError("every caption needs at least one unmasked token; encode '' for no caption")
        return t

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor,
                frame_offset: int = 0, count: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity v (B, C, T', H', W') for latents x_t (B, C, T', H', W') at per-frame times t
        (B, T') or (B,), text tokens (B, L, text_dim) with their bool mask (B, L), and (with
        `count_classes`) the number of objects (B,) int, 0 = unknown (None: all unknown; counts
        past the last class take the last class)."""
        cfg = self.config
        t = self.check_inputs(x, t, text, text_mask)
        grid = tuple(s // p for s, p in zip(x.shape[2:], cfg.patch))
        angles = rope_angles(grid, cfg.rope_split, cfg.rope_theta, frame_offset, device=x.device,
                             scale=cfg.rope_scale)
        cos, sin = rope_cos_sin(angles)  # (N, head_dim) each

        dtype = self.patch_embed.weight.dtype  # float32, or bfloat16 for shipped weights
        text = text.to(dtype)
        h = self.patch_embed(patchify(x, cfg.patch).to(dtype))  # (B, N, D)
        t_groups = t.reshape(t.shape[0], grid[0], cfg.patch[0]).mean(-1)  # (B, T'/pt)
        weights = text_mask.to(text.dtype)[..., None]
        pooled = (text * weights).sum(1) / weights.sum(1)  # (B, text_dim)
        c = self.t_embed(t_groups) + self.text_pool(pooled)[:, None]  # (B, T'/pt, D)
        if self.count_embed is not None:
            if count is None:
                count = torch.zeros(x.shape[0], dtype=torch.long)
            if count.shape != (x.shape[0],):
                raise ValueError(f"count of shape {tuple(count.shape)}: expected (B,) = ({x.shape[0]},)")
            classes = count.long().clamp(0, cfg.count_classes - 1).to(x.device)
            c = c + self.count_embed(classes).to(c.dtype)[:, None]
        for block in self.blocks:
            h = block(h, c, grid, cos, sin, text, text_mask)
        out = self.final(h, c, grid[0])  # (B, N, patch_dim)
        return unpatchify(out, cfg.patch, grid, cfg.latent_channels).to(x.dtype)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
