"""The autoencoder's configuration: one typed dataclass, presets in a plain dict.

The latent normalisation lives here (per-channel shift and scale, measured on training clips
after training) so that `encode` hands the DiT unit-variance latents and nobody hard-codes a
scale factor elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

DECODER_ONLY = ("decoder_blocks", "detail_width", "detail_blocks", "lookahead")  # settings the latents do not depend on
TEMPORAL_FACTOR = 4  # two time halvings; the first frame is kept alone, so T = 4k + 1 -> k + 1


@dataclass
class VAEConfig:
    arch: str = "conv"  # "conv": full-resolution convolutions; "patch": fold pixels first (patch.py)
    spatial_factor: int = 8  # 4, 8 or 16: how many 2x spatial halvings (2, 3, 4)
    latent_channels: int = 16
    width: int = 16  # channels at full resolution; each halving doubles them up to max_width
    max_width: int = 128
    blocks: int = 1  # residual blocks per level in the encoder
    decoder_blocks: int = 1  # residual blocks per level in the decoder
    full_res_time_kernel: int = 1  # time kernel of the full-resolution residual blocks (1: per frame, cheap)
    stem: int = 16  # patch arch: channels per pixel before folding
    detail_width: int = 0  # patch arch: channels of the decoder's per-frame path at 2x the latent
    #                        resolution, added to its linear unfold (0: none, as in the first weights)
    detail_blocks: int = 2  # residual blocks of that path
    lookahead: bool = False  # patch arch: the decoder also sees the next latent frame when it draws
    #                          a group's 4 frames (where a fast object goes next); False: causal
    latent_shift: list[float] = field(default_factory=list)  # per channel; empty = 0
    latent_scale: list[float] = field(default_factory=list)  # per channel; empty = 1

    @property
    def temporal_factor(self) -> int:
        return TEMPORAL_FACTOR

    @property
    def levels(self) -> int:
        return {4: 2, 8: 3, 16: 4}[self.spatial_factor]

    def level_widths(self) -> list[int]:
        """Channels at full resolution, after one halving, ..., at the latent resolution."""
        return [min(self.width * 2**i, self.max_width) for i in range(self.levels + 1)]

    def validate(self) -> VAEConfig:
        if self.spatial_factor not in (4, 8, 16):
            raise ValueError(f"spatial_factor {self.spatial_factor}: choose 4, 8 or 16")
        if self.arch not in ("conv", "patch"):
            raise ValueError(f"arch {self.arch!r}: choose conv or patch")
        if self.full_res_time_kernel not in (1, 3):
            raise ValueError(f"full_res_time_kernel {self.full_res_time_kernel}: choose 1 or 3")
        if self.detail_width < 0 or self.detail_blocks < 0:
            raise ValueError("detail_width and detail_blocks must be >= 0")
        if self.detail_width and self.arch != "patch":
            raise ValueError("detail_width is a part of the patch decoder: use arch 'patch' or detail_width 0")
        if self.lookahead and self.arch != "patch":
            raise ValueError("lookahead is a part of the patch decoder: use arch 'patch' or lookahead false")
        if self.latent_channels < 1 or self.width < 1 or self.blocks < 0 or self.decoder_blocks < 0:
            raise ValueError("latent_channels and width must be >= 1, blocks >= 0")
        for name in ("latent_shift", "latent_scale"):
            values = getattr(self, name)
            if values and len(values) != self.latent_channels:
                raise ValueError(f"{name} has {len(values)} values; need {self.latent_channels} or none")
        if any(v <= 0 for v in self.latent_scale):
            raise ValueError("latent_scale values must be positive")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def latent_space(self) -> dict[str, Any]:
        """The settings that fix what the latents mean: all but the decoder's. A decoder fine-tuned
        with a frozen encoder (even one with a new detail path) keeps the latents a DiT learned."""
        return {k: v for k, v in self.to_dict().items() if k not in DECODER_ONLY}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VAEConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown VAE config keys {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data).validate()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> VAEConfig:
        return cls.from_dict(json.loads(Path(path).read_text()))


VAE_PRESETS: dict[str, VAEConfig] = {
    "tiny": VAEConfig(spatial_factor=4, latent_channels=4, width=8, max_width=16),  # tests
    "f4c4": VAEConfig(spatial_factor=4, latent_channels=4),
    "f4c8": VAEConfig(spatial_factor=4, latent_channels=8),
    "f8c8": VAEConfig(spatial_factor=8, latent_channels=8),
    "f8c16": VAEConfig(spatial_factor=8, latent_channels=16),
    "f8c32": VAEConfig(spatial_factor=8, latent_channels=32),
    "p8c16": VAEConfig(arch="patch", spatial_factor=8, latent_channels=16, width=160, blocks=2, decoder_blocks=2),
    "p8c32": VAEConfig(arch="patch", spatial_factor=8, latent_channels=32, width=160, blocks=2, decoder_blocks=2),
    # the same floats per clip as p8c16 on a grid twice as fine (four times the DiT's tokens)
    "p4c4": VAEConfig(arch="patch", spatial_factor=4, latent_channels=4, width=160, blocks=2, decoder_blocks=2),
    "tiny-patch": VAEConfig(arch="patch", spatial_factor=4, latent_channels=4, width=16, stem=4),  # tests
    "tiny-patch-detail": VAEConfig(arch="patch", spatial_factor=4, latent_channels=4, width=16, stem=4,
                                   detail_width=8, detail_blocks=1),  # tests
    "tiny-patch-lookahead": VAEConfig(arch="patch", spatial_factor=4, latent_channels=4, width=16, stem=4,
                                      detail_width=8, detail_blocks=1, lookahead=True),  # tests
}
